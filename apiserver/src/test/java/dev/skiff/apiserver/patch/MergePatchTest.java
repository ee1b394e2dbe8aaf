package dev.skiff.apiserver.patch;

import static dev.skiff.apiserver.patch.Json.b;
import static dev.skiff.apiserver.patch.Json.j;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MergePatchTest {

    /** RFC 7386 Appendix A (cases 11 and 12 differ in v4; see below), plus Kubernetes bodies. */
    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("A1 replace member", "{'a':'b'}", "{'a':'c'}", "{'a':'c'}"),
                Arguments.of("A2 add member", "{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"),
                Arguments.of("A3 null deletes", "{'a':'b'}", "{'a':null}", "{}"),
                Arguments.of("A4 null deletes one", "{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"),
                Arguments.of("A5 array replaced by scalar", "{'a':['b']}", "{'a':'c'}", "{'a':'c'}"),
                Arguments.of("A6 scalar replaced by array", "{'a':'c'}", "{'a':['b']}", "{'a':['b']}"),
                Arguments.of("A7 nested merge", "{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"),
                Arguments.of("A8 arrays replaced", "{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"),
                Arguments.of("A9 array document", "['a','b']", "['c','d']", "['c','d']"),
                Arguments.of("A10 array patch replaces", "{'a':'b'}", "['c']", "['c']"),
                Arguments.of("A13 existing null kept", "{'e':null}", "{'a':1}", "{'e':null,'a':1}"),
                Arguments.of("A14 non-object document", "[1,2]", "{'a':'b','c':null}", "{'a':'b'}"),
                Arguments.of("A15 nested nulls pruned", "{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"),
                Arguments.of("kubectl scale body", "{'spec':{'replicas':1,'selector':{'app':'x'}}}",
                        "{'spec':{'replicas':3}}", "{'spec':{'replicas':3,'selector':{'app':'x'}}}"),
                Arguments.of("kubectl label: add and remove",
                        "{'metadata':{'name':'n','labels':{'a':'1','b':'2'}}}",
                        "{'metadata':{'labels':{'a':null,'c':'3'}}}",
                        "{'metadata':{'name':'n','labels':{'b':'2','c':'3'}}}"),
                Arguments.of("lists are atomic (finalizers too)",
                        "{'metadata':{'finalizers':['a','b']}}", "{'metadata':{'finalizers':['c']}}",
                        "{'metadata':{'finalizers':['c']}}"),
                Arguments.of("nulls pruned inside new arrays' objects, null elements kept (v4)",
                        "{}", "{'a':[{'b':null,'c':1},null]}", "{'a':[{'c':1},null]}"),
                Arguments.of("object replaced by non-object is taken verbatim (v4)",
                        "{'a':{'x':1}}", "{'a':[{'b':null}]}", "{'a':[{'b':null}]}"),
                Arguments.of("null member of document replaced", "{'a':null}", "{'a':{'b':null,'c':1}}",
                        "{'a':{'c':1}}"),
                Arguments.of("deleting an absent member is a no-op", "{'a':1}", "{'b':null}", "{'a':1}"),
                Arguments.of("empty patch", "{'a':1}", "{}", "{'a':1}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void merges(String name, String doc, String patch, String expected) {
        JsonNode d = j(doc);
        JsonNode p = j(patch);
        JsonNode dBefore = d.deepCopy();
        JsonNode pBefore = p.deepCopy();
        assertThat(MergePatch.apply(d, p)).isEqualTo(j(expected));
        assertThat(d).isEqualTo(dBefore);
        assertThat(p).isEqualTo(pBefore);
    }

    static Stream<Arguments> rejected() {
        // RFC A11/A12 would replace the document; evanphx v4 answers ErrBadJSONPatch → 400.
        return Stream.of(
                Arguments.of("A11 null patch", "null"),
                Arguments.of("A12 string patch", "'bar'"),
                Arguments.of("number patch", "5"),
                Arguments.of("syntax error", "{'a':"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rejected")
    void rejectsNonObjectPatch(String name, String body) {
        assertThatThrownBy(() -> MergePatch.apply(j("{'a':'foo'}"), b(body)))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.isBadRequest()).isTrue();
                    assertThat(e.statusMessage()).isEqualTo("Invalid JSON Patch");
                });
    }

    @Test
    void bytesApply() {
        assertThat(MergePatch.apply(j("{'spec':{'replicas':1}}"), b("{'spec':{'replicas':2}}")))
                .isEqualTo(j("{'spec':{'replicas':2}}"));
    }
}
