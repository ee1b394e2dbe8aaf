package dev.skiff.apiserver.patch;

import static dev.skiff.apiserver.patch.Json.j;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The Go-compatibility helpers that strategic merge patch ordering depends on. */
class GoSortPatchTest {

    @Test
    void stableSortMatchesAStableSortForValidComparators() {
        Random r = new Random(7);
        for (int n : new int[] {0, 1, 19, 20, 21, 40, 41, 97, 300}) {
            List<JsonNode> data = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ObjectNode o = JsonNodeFactory.instance.objectNode();
                o.put("k", r.nextInt(10));
                o.put("seq", i);
                data.add(o);
            }
            List<JsonNode> expected = new ArrayList<>(data);
            expected.sort(Comparator.comparingInt(x -> x.get("k").intValue())); // List.sort is stable
            Go.stableSort(data, (a, b) -> a.get("k").intValue() < b.get("k").intValue());
            assertThat(data).as("n=%d", n).isEqualTo(expected);
        }
    }

    @Test
    void alwaysTrueComparatorReversesSmallLikeGoInsertionSort() {
        List<JsonNode> data = new ArrayList<>(List.of(IntNode.valueOf(1), IntNode.valueOf(2), IntNode.valueOf(3)));
        Go.stableSort(data, (a, b) -> true);
        assertThat(data).containsExactly(IntNode.valueOf(3), IntNode.valueOf(2), IntNode.valueOf(1));
    }

    @Test
    void setElementOrderOnALongList() {
        ArrayNode live = JsonNodeFactory.instance.arrayNode();
        ArrayNode order = JsonNodeFactory.instance.arrayNode();
        for (int i = 0; i < 45; i++) {
            live.add(j("{'name':'c" + i + "','image':'i'}"));
            order.insert(0, j("{'name':'c" + i + "'}"));
        }
        ObjectNode original = JsonNodeFactory.instance.objectNode();
        original.putObject("spec").set("containers", live);
        ObjectNode patch = JsonNodeFactory.instance.objectNode();
        patch.putObject("spec").set("$setElementOrder/containers", order);

        JsonNode out = StrategicMergePatch.apply(original, patch, KubeTestSchema.POD);

        List<String> names = new ArrayList<>();
        out.at("/spec/containers").forEach(c -> names.add(c.get("name").textValue()));
        List<String> want = new ArrayList<>();
        for (int i = 44; i >= 0; i--) {
            want.add("c" + i);
        }
        assertThat(names).isEqualTo(want);
    }

    @Test
    void goFormatPrintsLikeFmtV() {
        assertThat(Go.format(j("{'b':[1,2.5,true,null],'a':'x'}"))).isEqualTo("map[a:x b:[1 2.5 true <nil>]]");
    }

    @Test
    void goEqualTreatsAllNumbersAsFloat64() {
        assertThat(Go.equal(j("80"), j("80.0"))).isTrue();
        assertThat(Go.equal(j("80"), j("'80'"))).isFalse();
    }
}
