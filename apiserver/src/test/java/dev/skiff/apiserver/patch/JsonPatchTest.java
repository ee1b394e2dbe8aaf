package dev.skiff.apiserver.patch;

import static dev.skiff.apiserver.patch.Json.b;
import static dev.skiff.apiserver.patch.Json.j;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class JsonPatchTest {

    static final String POD = "{'metadata':{'name':'p','resourceVersion':'7','labels':{'app':'web','tier':'fe'},"
            + "'annotations':{'example.com/a':'1','t~x':'2'}},"
            + "'spec':{'containers':[{'name':'a','image':'i1'},{'name':'b','image':'i2'}],'nodeName':null}}";

    static Stream<Arguments> applies() {
        return Stream.of(
                Arguments.of("add member",
                        "[{'op':'add','path':'/metadata/labels/new','value':'x'}]",
                        "/metadata/labels", "{'app':'web','tier':'fe','new':'x'}"),
                Arguments.of("add replaces an existing member",
                        "[{'op':'add','path':'/metadata/labels/app','value':'x'}]",
                        "/metadata/labels", "{'app':'x','tier':'fe'}"),
                Arguments.of("add inserts at array index",
                        "[{'op':'add','path':'/spec/containers/1','value':{'name':'c'}}]",
                        "/spec/containers", "[{'name':'a','image':'i1'},{'name':'c'},{'name':'b','image':'i2'}]"),
                Arguments.of("add at index == length appends",
                        "[{'op':'add','path':'/spec/containers/2','value':{'name':'c'}}]",
                        "/spec/containers", "[{'name':'a','image':'i1'},{'name':'b','image':'i2'},{'name':'c'}]"),
                Arguments.of("dash appends",
                        "[{'op':'add','path':'/spec/containers/-','value':{'name':'c'}}]",
                        "/spec/containers", "[{'name':'a','image':'i1'},{'name':'b','image':'i2'},{'name':'c'}]"),
                Arguments.of("negative index counts from the end (v4)",
                        "[{'op':'remove','path':'/spec/containers/-1'}]",
                        "/spec/containers", "[{'name':'a','image':'i1'}]"),
                Arguments.of("~1 escapes slash",
                        "[{'op':'replace','path':'/metadata/annotations/example.com~1a','value':'9'}]",
                        "/metadata/annotations", "{'example.com/a':'9','t~x':'2'}"),
                Arguments.of("~0 escapes tilde",
                        "[{'op':'remove','path':'/metadata/annotations/t~0x'}]",
                        "/metadata/annotations", "{'example.com/a':'1'}"),
                Arguments.of("replace array element field",
                        "[{'op':'replace','path':'/spec/containers/0/image','value':'nginx'}]",
                        "/spec/containers/0", "{'name':'a','image':'nginx'}"),
                Arguments.of("replace of a missing member adds it (evanphx/json-patch v4)",
                        "[{'op':'replace','path':'/metadata/labels/missing','value':'x'}]",
                        "/metadata/labels", "{'app':'web','tier':'fe','missing':'x'}"),
                Arguments.of("remove member",
                        "[{'op':'remove','path':'/metadata/labels/tier'}]",
                        "/metadata/labels", "{'app':'web'}"),
                Arguments.of("remove null-valued member",
                        "[{'op':'remove','path':'/spec/nodeName'}]",
                        "/spec", "{'containers':[{'name':'a','image':'i1'},{'name':'b','image':'i2'}]}"),
                Arguments.of("move",
                        "[{'op':'move','from':'/metadata/labels/tier','path':'/metadata/annotations/tier'}]",
                        "/metadata", "{'name':'p','resourceVersion':'7','labels':{'app':'web'},"
                                + "'annotations':{'example.com/a':'1','t~x':'2','tier':'fe'}}"),
                Arguments.of("move array element",
                        "[{'op':'move','from':'/spec/containers/0','path':'/spec/containers/-'}]",
                        "/spec/containers", "[{'name':'b','image':'i2'},{'name':'a','image':'i1'}]"),
                Arguments.of("copy",
                        "[{'op':'copy','from':'/spec/containers/0','path':'/spec/containers/-'}]",
                        "/spec/containers", "[{'name':'a','image':'i1'},{'name':'b','image':'i2'},{'name':'a','image':'i1'}]"),
                Arguments.of("test then replace (optimistic update)",
                        "[{'op':'test','path':'/metadata/resourceVersion','value':'7'},"
                                + "{'op':'replace','path':'/metadata/resourceVersion','value':'8'}]",
                        "/metadata/resourceVersion", "'8'"),
                Arguments.of("test of an object compares structurally",
                        "[{'op':'test','path':'/metadata/labels','value':{'tier':'fe','app':'web'}}]",
                        "/metadata/labels", "{'app':'web','tier':'fe'}"),
                Arguments.of("test null matches a missing member (v4)",
                        "[{'op':'test','path':'/metadata/labels/absent','value':null}]",
                        "/metadata/labels", "{'app':'web','tier':'fe'}"),
                Arguments.of("test null matches a null member",
                        "[{'op':'test','path':'/spec/nodeName','value':null}]",
                        "/metadata/name", "'p'"),
                Arguments.of("add without value adds null",
                        "[{'op':'add','path':'/metadata/labels/n'}]",
                        "/metadata/labels", "{'app':'web','tier':'fe','n':null}"),
                Arguments.of("empty patch",
                        "[]",
                        "/metadata/labels", "{'app':'web','tier':'fe'}"),
                Arguments.of("kubectl CSA->SSA migration body",
                        "[{'op':'replace','path':'/metadata/managedFields','value':[{'manager':'kubectl'}]},"
                                + "{'op':'replace','path':'/metadata/resourceVersion','value':'7'}]",
                        "/metadata/managedFields", "[{'manager':'kubectl'}]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("applies")
    void applies(String name, String patch, String pointer, String expected) {
        JsonNode doc = j(POD);
        JsonNode before = doc.deepCopy();
        JsonNode patchNode = j(patch);
        JsonNode patchBefore = patchNode.deepCopy();

        JsonNode out = JsonPatch.apply(doc, patchNode);

        assertThat(out.at(pointer)).isEqualTo(j(expected));
        assertThat(doc).as("document not mutated").isEqualTo(before);
        assertThat(patchNode).as("patch not mutated").isEqualTo(patchBefore);
    }

    static Stream<Arguments> failures() {
        return Stream.of(
                Arguments.of("failed test",
                        "[{'op':'test','path':'/metadata/resourceVersion','value':'6'}]",
                        "testing value /metadata/resourceVersion failed: test failed"),
                Arguments.of("failed test on missing member with non-null value",
                        "[{'op':'test','path':'/metadata/labels/absent','value':'x'}]",
                        "testing value /metadata/labels/absent failed: test failed"),
                Arguments.of("test: number text differs (1 vs 1.0)",
                        "[{'op':'add','path':'/n','value':1},{'op':'test','path':'/n','value':1.0}]",
                        "testing value /n failed: test failed"),
                Arguments.of("test object with extra member",
                        "[{'op':'test','path':'/metadata/labels','value':{'app':'web','tier':'fe','x':'y'}}]",
                        "testing value /metadata/labels failed: test failed"),
                Arguments.of("replace: array index out of range",
                        "[{'op':'replace','path':'/spec/containers/5','value':{}}]",
                        "replace operation does not apply: doc is missing key: /spec/containers/5: missing value"),
                Arguments.of("replace: missing parent",
                        "[{'op':'replace','path':'/spec/foo/bar','value':1}]",
                        "replace operation does not apply: doc is missing path: /spec/foo/bar: missing value"),
                Arguments.of("replace through a scalar",
                        "[{'op':'replace','path':'/metadata/name/x','value':1}]",
                        "replace operation does not apply: doc is missing path: /metadata/name/x: missing value"),
                Arguments.of("add: missing parent",
                        "[{'op':'add','path':'/spec/nope/x','value':1}]",
                        "add operation does not apply: doc is missing path: \"/spec/nope/x\": missing value"),
                Arguments.of("add: index beyond length",
                        "[{'op':'add','path':'/spec/containers/3','value':1}]",
                        "error in add for path: '/spec/containers/3': Unable to access invalid index: 3: invalid index referenced"),
                Arguments.of("add: index not a number",
                        "[{'op':'add','path':'/spec/containers/x','value':1}]",
                        "error in add for path: '/spec/containers/x': value was not a proper array index: 'x': "
                                + "strconv.Atoi: parsing \"x\": invalid syntax"),
                Arguments.of("remove: missing member",
                        "[{'op':'remove','path':'/metadata/labels/nope'}]",
                        "error in remove for path: '/metadata/labels/nope': Unable to remove nonexistent key: nope: missing value"),
                Arguments.of("remove: missing parent",
                        "[{'op':'remove','path':'/status/x'}]",
                        "remove operation does not apply: doc is missing path: \"/status/x\": missing value"),
                Arguments.of("remove: index out of range",
                        "[{'op':'remove','path':'/spec/containers/2'}]",
                        "error in remove for path: '/spec/containers/2': Unable to access invalid index: 2: invalid index referenced"),
                Arguments.of("move: from missing member",
                        "[{'op':'move','from':'/metadata/labels/nope','path':'/metadata/labels/x'}]",
                        "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
                Arguments.of("move: missing destination parent",
                        "[{'op':'move','from':'/metadata/labels/app','path':'/nope/x'}]",
                        "move operation does not apply: doc is missing destination path: /nope/x: missing value"),
                Arguments.of("copy: missing from parent",
                        "[{'op':'copy','from':'/nope/x','path':'/metadata/labels/x'}]",
                        "copy operation does not apply: doc is missing from path: /nope/x: missing value"),
                Arguments.of("root pointer is not addressable in v4",
                        "[{'op':'replace','path':'','value':{}}]",
                        "replace operation does not apply: doc is missing path: : missing value"),
                Arguments.of("missing path field",
                        "[{'op':'add','value':1}]",
                        "add operation failed to decode path: missing value"),
                Arguments.of("missing path field (replace keeps the cause)",
                        "[{'op':'replace','value':1}]",
                        "replace operation failed to decode path: operation missing path field: missing value"),
                Arguments.of("unknown op",
                        "[{'op':'frob','path':'/a'}]",
                        "Unexpected kind: frob"),
                Arguments.of("missing op",
                        "[{'path':'/a'}]",
                        "Unexpected kind: unknown"),
                Arguments.of("later op fails after earlier ones applied",
                        "[{'op':'add','path':'/metadata/labels/x','value':'1'},{'op':'remove','path':'/nope/y'}]",
                        "remove operation does not apply: doc is missing path: \"/nope/y\": missing value"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("failures")
    void failsWith422(String name, String patch, String message) {
        JsonNode doc = j(POD);
        JsonNode before = doc.deepCopy();
        assertThatThrownBy(() -> JsonPatch.apply(doc, j(patch)))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo(message);
                    assertThat(e.kind()).isEqualTo(PatchException.Kind.INVALID);
                    assertThat(e.code()).isEqualTo(422);
                    assertThat(e.reason()).isEqualTo("Invalid");
                    assertThat(e.isBadRequest()).isFalse();
                    assertThat(e.statusMessage()).isEqualTo("the server rejected our request due to an error in our request");
                });
        assertThat(doc).isEqualTo(before);
    }

    @Test
    void undecodableBodyIsBadRequest() {
        assertThatThrownBy(() -> JsonPatch.apply(j(POD), b("[{'op':")))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.isBadRequest()).isTrue();
                    assertThat(e.code()).isEqualTo(400);
                    assertThat(e.reason()).isEqualTo("BadRequest");
                });
    }

    @Test
    void objectInsteadOfArrayIsBadRequestWithGoText() {
        // kubectl-compat / kubernetes/website#21546: an object body is rejected while decoding.
        assertThatThrownBy(() -> JsonPatch.apply(j(POD), b("{'op':'add','path':'/a','value':1}")))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.isBadRequest()).isTrue();
                    assertThat(e.statusMessage()).isEqualTo("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
                });
    }

    @Test
    void bytesApplyWorks() {
        JsonNode out = JsonPatch.apply(j(POD), b("[{'op':'replace','path':'/metadata/labels/app','value':'v2'}]"));
        assertThat(out.at("/metadata/labels/app").textValue()).isEqualTo("v2");
    }

    @Test
    void moreThanTenThousandOperationsIs413() {
        ArrayNode ops = JsonNodeFactory.instance.arrayNode();
        for (int i = 0; i < JsonPatch.MAX_OPERATIONS + 1; i++) {
            ops.add(j("{'op':'test','path':'/metadata/name','value':'p'}"));
        }
        assertThatThrownBy(() -> JsonPatch.apply(j(POD), ops))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.code()).isEqualTo(413);
                    assertThat(e.reason()).isEqualTo("RequestEntityTooLarge");
                    assertThat(e.statusMessage()).isEqualTo(
                            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001");
                });
    }

    @Test
    void exactlyTenThousandOperationsIsAllowed() {
        ArrayNode ops = JsonNodeFactory.instance.arrayNode();
        for (int i = 0; i < JsonPatch.MAX_OPERATIONS; i++) {
            ops.add(j("{'op':'test','path':'/metadata/name','value':'p'}"));
        }
        assertThat(JsonPatch.apply(j(POD), ops)).isEqualTo(j(POD));
    }

    @Test
    void copiedValueIsIndependent() {
        JsonNode out = JsonPatch.apply(j(POD), j("[{'op':'copy','from':'/metadata/labels','path':'/spec/l'},"
                + "{'op':'add','path':'/spec/l/z','value':'1'}]"));
        assertThat(out.at("/metadata/labels")).isEqualTo(j("{'app':'web','tier':'fe'}"));
        assertThat(out.at("/spec/l")).isEqualTo(j("{'app':'web','tier':'fe','z':'1'}"));
    }
}
