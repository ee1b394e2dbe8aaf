package dev.skiff.apiserver.patch;

import static dev.skiff.apiserver.patch.Json.b;
import static dev.skiff.apiserver.patch.Json.j;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class StrategicMergePatchTest {

    static final PatchSchema D = KubeTestSchema.DEPLOYMENT;
    static final PatchSchema P = KubeTestSchema.POD;
    static final PatchSchema S = KubeTestSchema.SERVICE;

    /** A live Deployment as kube-apiserver would return it (defaulted fields included). */
    static final String LIVE = "{'apiVersion':'apps/v1','kind':'Deployment',"
            + "'metadata':{'name':'web','namespace':'default','uid':'u-1','resourceVersion':'42','generation':2,"
            + "  'labels':{'app':'web','tier':'fe'},"
            + "  'annotations':{'deployment.kubernetes.io/revision':'2','kubectl.kubernetes.io/last-applied-configuration':'OLD'},"
            + "  'finalizers':['a','b']},"
            + "'spec':{'replicas':1,'revisionHistoryLimit':10,'selector':{'matchLabels':{'app':'web'}},"
            + "  'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%','maxUnavailable':'25%'}},"
            + "  'template':{'metadata':{'labels':{'app':'web'}},'spec':{"
            + "    'containers':[{'name':'web','image':'nginx:1.27','imagePullPolicy':'IfNotPresent',"
            + "       'ports':[{'containerPort':80,'protocol':'TCP'}],"
            + "       'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}],"
            + "       'resources':{},'terminationMessagePath':'/dev/termination-log'},"
            + "      {'name':'sidecar','image':'busybox','args':['sleep','1d']}],"
            + "    'volumes':[{'name':'data','emptyDir':{}}],"
            + "    'tolerations':[{'key':'k1','operator':'Exists'}],"
            + "    'restartPolicy':'Always','dnsPolicy':'ClusterFirst'}}},"
            + "'status':{'replicas':1,'conditions':[{'type':'Available','status':'True'},{'type':'Progressing','status':'True'}]}}";

    /**
     * Cases: name, schema, original, patch, JSON pointer into the result, expected value there.
     * Most use the live Deployment; the expectation is checked at one pointer, and
     * {@link #csaApplyChangesOnlyWhatItSays} checks a whole object.
     */
    static Stream<Arguments> cases() {
        return Stream.of(
                // ---- maps ----
                Arguments.of("null deletes a label", D, LIVE,
                        "{'metadata':{'labels':{'tier':null}}}", "/metadata/labels", "{'app':'web'}"),
                Arguments.of("null for an absent key is ignored", D, LIVE,
                        "{'metadata':{'labels':{'nope':null}}}", "/metadata/labels", "{'app':'web','tier':'fe'}"),
                Arguments.of("maps merge recursively", D, LIVE,
                        "{'spec':{'selector':{'matchLabels':{'x':'y'}}}}", "/spec/selector/matchLabels", "{'app':'web','x':'y'}"),
                Arguments.of("$patch: replace on a map", D, LIVE,
                        "{'spec':{'template':{'metadata':{'labels':{'$patch':'replace','x':'y'}}}}}",
                        "/spec/template/metadata/labels", "{'x':'y'}"),
                Arguments.of("$patch: delete on a map leaves an empty map", D, LIVE,
                        "{'spec':{'strategy':{'$patch':'delete'}}}", "/spec/strategy", "{}"),
                Arguments.of("scalar replaced by map", P, "{'a':'s'}", "{'a':{'b':1,'c':null}}", "/a", "{'b':1}"),
                Arguments.of("new subtree: nulls dropped", D, LIVE,
                        "{'spec':{'template':{'spec':{'securityContext':{'runAsUser':1,'fsGroup':null}}}}}",
                        "/spec/template/spec/securityContext", "{'runAsUser':1}"),
                // ---- retainKeys ----
                Arguments.of("$retainKeys: RollingUpdate -> Recreate (kubectl body)", D, LIVE,
                        "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':null,'type':'Recreate'}}}",
                        "/spec/strategy", "{'type':'Recreate'}"),
                Arguments.of("$retainKeys without explicit null", D, LIVE,
                        "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}",
                        "/spec/strategy", "{'type':'Recreate'}"),
                Arguments.of("$retainKeys keeps listed keys and merges them", D, LIVE,
                        "{'spec':{'strategy':{'$retainKeys':['rollingUpdate','type'],'rollingUpdate':{'maxSurge':1}}}}",
                        "/spec/strategy", "{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1,'maxUnavailable':'25%'}}"),
                Arguments.of("volumes merge,retainKeys: switch emptyDir -> configMap", D, LIVE,
                        "{'spec':{'template':{'spec':{'volumes':[{'$retainKeys':['configMap','name'],'name':'data','configMap':{'name':'cm'}}]}}}}",
                        "/spec/template/spec/volumes", "[{'name':'data','configMap':{'name':'cm'}}]"),
                // ---- merge lists of maps ----
                Arguments.of("merge by name changes only the image", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'sidecar','image':'busybox:2'}]}}}}",
                        "/spec/template/spec/containers/1", "{'name':'sidecar','image':'busybox:2','args':['sleep','1d']}"),
                Arguments.of("env merges by name, new env appended after existing", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web','env':[{'name':'B','value':'3'},{'name':'C','value':'4'}]}]}}}}",
                        "/spec/template/spec/containers/0/env",
                        "[{'name':'A','value':'1'},{'name':'B','value':'3'},{'name':'C','value':'4'}]"),
                Arguments.of("a lone new env var goes before server-only items (mergeSortedSlice)", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web','env':[{'name':'C','value':'4'}]}]}}}}",
                        "/spec/template/spec/containers/0/env",
                        "[{'name':'C','value':'4'},{'name':'A','value':'1'},{'name':'B','value':'2'}]"),
                Arguments.of("$setElementOrder puts a new env var last", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web',"
                                + "'$setElementOrder/env':[{'name':'A'},{'name':'B'},{'name':'C'}],'env':[{'name':'C','value':'4'}]}]}}}}",
                        "/spec/template/spec/containers/0/env",
                        "[{'name':'A','value':'1'},{'name':'B','value':'2'},{'name':'C','value':'4'}]"),
                Arguments.of("env value null removes the field of that element", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web','env':[{'name':'A','value':null}]}]}}}}",
                        "/spec/template/spec/containers/0/env", "[{'name':'A'},{'name':'B','value':'2'}]"),
                Arguments.of("$patch: delete removes a container", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'$patch':'delete','name':'sidecar'}]}}}}",
                        "/spec/template/spec/containers", null),
                Arguments.of("kubectl apply removing a container ($setElementOrder + delete)", D, LIVE,
                        "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'web'}],'containers':[{'$patch':'delete','name':'sidecar'}]}}}}",
                        "/spec/template/spec/containers/1", null),
                Arguments.of("delete of an unknown element is a no-op", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'$patch':'delete','name':'ghost'}]}}}}",
                        "/spec/template/spec/containers/1/name", "'sidecar'"),
                Arguments.of("$patch: replace element replaces the list", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'only','image':'x','env':[{'name':'Z','value':null}]},{'$patch':'replace'}]}}}}",
                        "/spec/template/spec/containers", "[{'name':'only','image':'x','env':[{'name':'Z'}]}]"),
                Arguments.of("$setElementOrder alone reorders", D, LIVE,
                        "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'sidecar'},{'name':'web'}]}}}}",
                        "/spec/template/spec/containers/0/name", "'sidecar'"),
                Arguments.of("$setElementOrder with a new container added in the middle", D, LIVE,
                        "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'web'},{'name':'mid'},{'name':'sidecar'}],"
                                + "'containers':[{'name':'mid','image':'m'}]}}}}",
                        "/spec/template/spec/containers",
                        null),
                Arguments.of("ports merge by containerPort", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web','ports':[{'containerPort':80,'name':'http'}]}]}}}}",
                        "/spec/template/spec/containers/0/ports", "[{'containerPort':80,'protocol':'TCP','name':'http'}]"),
                Arguments.of("volumeMounts created where none existed", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'sidecar','volumeMounts':[{'mountPath':'/d','name':'data'}]}]}}}}",
                        "/spec/template/spec/containers/1/volumeMounts", "[{'mountPath':'/d','name':'data'}]"),
                Arguments.of("status conditions merge by type", D, LIVE,
                        "{'status':{'conditions':[{'type':'Progressing','status':'False','reason':'X'}]}}",
                        "/status/conditions",
                        "[{'type':'Available','status':'True'},{'type':'Progressing','status':'False','reason':'X'}]"),
                // ---- atomic lists ----
                Arguments.of("list without strategy is replaced (tolerations)", D, LIVE,
                        "{'spec':{'template':{'spec':{'tolerations':[{'key':'k2','operator':'Exists'}]}}}}",
                        "/spec/template/spec/tolerations", "[{'key':'k2','operator':'Exists'}]"),
                Arguments.of("container args are atomic", D, LIVE,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'sidecar','args':['x']}]}}}}",
                        "/spec/template/spec/containers/1/args", "['x']"),
                Arguments.of("null deletes a list", D, LIVE,
                        "{'spec':{'template':{'spec':{'tolerations':null}}}}",
                        "/spec/template/spec/tolerations", null),
                // ---- primitive merge lists ----
                Arguments.of("finalizers: union with duplicates removed", D, LIVE,
                        "{'metadata':{'finalizers':['b','c']}}", "/metadata/finalizers", "['a','b','c']"),
                Arguments.of("finalizers: a lone new value goes first", D, LIVE,
                        "{'metadata':{'finalizers':['c']}}", "/metadata/finalizers", "['c','a','b']"),
                Arguments.of("finalizers: existing value is a no-op", D, LIVE,
                        "{'metadata':{'finalizers':['a']}}", "/metadata/finalizers", "['a','b']"),
                Arguments.of("$deleteFromPrimitiveList/finalizers", D, LIVE,
                        "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a']}}", "/metadata/finalizers", "['b']"),
                Arguments.of("$deleteFromPrimitiveList with $setElementOrder (kubectl apply)", D, LIVE,
                        "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a'],'$setElementOrder/finalizers':['b','c'],'finalizers':['c']}}",
                        "/metadata/finalizers", "['b','c']"),
                Arguments.of("$deleteFromPrimitiveList on an absent list adds nothing", P, "{'metadata':{'name':'p'}}",
                        "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a']}}", "/metadata", "{'name':'p'}"),
                Arguments.of("new finalizers list is deduplicated", P, "{'metadata':{'name':'p'}}",
                        "{'metadata':{'finalizers':['x','x','y']}}", "/metadata/finalizers", "['x','y']"),
                // ---- other kinds ----
                Arguments.of("ownerReferences merge by uid", P,
                        "{'metadata':{'ownerReferences':[{'uid':'1','kind':'ReplicaSet','name':'rs'}]}}",
                        "{'metadata':{'ownerReferences':[{'uid':'1','controller':true}]}}",
                        "/metadata/ownerReferences", "[{'uid':'1','kind':'ReplicaSet','name':'rs','controller':true}]"),
                Arguments.of("Pod podIPs merge by ip", P,
                        "{'status':{'podIPs':[{'ip':'10.0.0.1'}]}}", "{'status':{'podIPs':[{'ip':'fd00::1'}]}}",
                        "/status/podIPs", "[{'ip':'fd00::1'},{'ip':'10.0.0.1'}]"),
                Arguments.of("Service ports merge by port", S,
                        "{'spec':{'ports':[{'port':80,'targetPort':8080,'protocol':'TCP'},{'port':443,'targetPort':8443}]}}",
                        "{'spec':{'$setElementOrder/ports':[{'port':80},{'port':443}],'ports':[{'port':80,'targetPort':9090}]}}",
                        "/spec/ports", "[{'port':80,'targetPort':9090,'protocol':'TCP'},{'port':443,'targetPort':8443}]"),
                // ---- unknown schema ----
                Arguments.of("null schema: maps merge", null, "{'a':{'b':1,'c':2}}", "{'a':{'b':3}}", "/a", "{'b':3,'c':2}"),
                Arguments.of("null schema: lists replace", null, "{'l':[{'name':'x','v':1}]}", "{'l':[{'name':'x'}]}",
                        "/l", "[{'name':'x'}]"),
                Arguments.of("null schema: directives still apply", null, "{'a':{'b':1},'c':2}",
                        "{'a':{'$patch':'replace','z':1}}", "", "{'a':{'z':1},'c':2}"),
                Arguments.of("null patch is a no-op", D, LIVE, "null", "/metadata/labels", "{'app':'web','tier':'fe'}"),
                Arguments.of("top-level $patch: replace", null, "{'a':1}", "{'$patch':'replace','b':2}", "", "{'b':2}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void patches(String name, PatchSchema schema, String original, String patch, String pointer, String expected) {
        JsonNode o = j(original);
        JsonNode p = j(patch);
        JsonNode oBefore = o.deepCopy();
        JsonNode pBefore = p.deepCopy();

        JsonNode out = StrategicMergePatch.apply(o, p, schema);

        if (expected != null) {
            assertThat(out.at(pointer)).isEqualTo(j(expected));
        } else if (name.contains("removes a container") || name.contains("removing a container")) {
            assertThat(out.at("/spec/template/spec/containers").size()).isEqualTo(1);
            assertThat(out.at("/spec/template/spec/containers/0/name").textValue()).isEqualTo("web");
            assertThat(out.at("/spec/template/spec/containers/0/image").textValue()).isEqualTo("nginx:1.27");
        } else if (name.contains("in the middle")) {
            assertThat(names(out.at(pointer))).containsExactly("web", "mid", "sidecar");
        } else {
            assertThat(out.at(pointer).isMissingNode()).as("%s absent", pointer).isTrue();
        }
        assertThat(o).as("original not mutated").isEqualTo(oBefore);
        assertThat(p).as("patch not mutated").isEqualTo(pBefore);
    }

    /** The exact body kubectl 1.32 client-side apply sends (kubectl-compat.md §A). */
    @Test
    void csaApplyChangesOnlyWhatItSays() {
        String patch = "{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'NEW'}},"
                + "'spec':{'replicas':3,'template':{'spec':{'$setElementOrder/containers':[{'name':'web'}],"
                + "'containers':[{'image':'nginx:1.28','name':'web'}]}}}}";
        JsonNode live = j(LIVE);
        JsonNode out = StrategicMergePatch.apply(live, j(patch), D);

        ObjectNode expected = (ObjectNode) j(LIVE);
        ((ObjectNode) expected.at("/metadata/annotations")).put("kubectl.kubernetes.io/last-applied-configuration", "NEW");
        ((ObjectNode) expected.at("/spec")).put("replicas", 3);
        ((ObjectNode) expected.at("/spec/template/spec/containers/0")).put("image", "nginx:1.28");
        assertThat(out).isEqualTo(expected);
        assertThat(out.at("/spec/template/spec/containers/1/name").textValue())
                .as("server-only sidecar keeps its place").isEqualTo("sidecar");
        assertThat(live).isEqualTo(j(LIVE));
    }

    @Test
    void csaApplyBodyAsBytes() {
        byte[] body = b("{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'{}'}},"
                + "'spec':{'replicas':3,'template':{'spec':{'$setElementOrder/containers':[{'name':'web'}],"
                + "'containers':[{'image':'nginx:1.28','name':'web'}]}}}}");
        JsonNode out = StrategicMergePatch.apply(j(LIVE), body, D);
        assertThat(out.at("/spec/replicas").intValue()).isEqualTo(3);
        assertThat(out.at("/spec/template/spec/containers/0/ports")).isEqualTo(j("[{'containerPort':80,'protocol':'TCP'}]"));
    }

    @Test
    void setElementOrderInterleavesServerOnlyItemsByLiveOrder() {
        // live [a, x, b]; the patch orders [b, a] and does not know x.
        String live = "{'spec':{'containers':[{'name':'a'},{'name':'x'},{'name':'b'}]}}";
        JsonNode out = StrategicMergePatch.apply(j(live),
                j("{'spec':{'$setElementOrder/containers':[{'name':'b'},{'name':'a'}]}}"), P);
        assertThat(names(out.at("/spec/containers"))).containsExactly("x", "b", "a");
    }

    @Test
    void kubectlSetImage() {
        JsonNode out = StrategicMergePatch.apply(j(LIVE),
                j("{'spec':{'template':{'spec':{'containers':[{'image':'nginx:1.29','name':'web'}]}}}}"), D);
        assertThat(out.at("/spec/template/spec/containers").findValuesAsText("image")).containsExactly("nginx:1.29", "busybox");
    }

    @Test
    void kubectlRolloutRestart() {
        JsonNode out = StrategicMergePatch.apply(j(LIVE), j("{'spec':{'template':{'metadata':{'annotations':"
                + "{'kubectl.kubernetes.io/restartedAt':'2025-01-01T00:00:00Z'}}}}}"), D);
        assertThat(out.at("/spec/template/metadata")).isEqualTo(j("{'labels':{'app':'web'},"
                + "'annotations':{'kubectl.kubernetes.io/restartedAt':'2025-01-01T00:00:00Z'}}"));
    }

    /** The "name" of each element of a list (not of nested lists). */
    static java.util.List<String> names(JsonNode list) {
        java.util.List<String> out = new java.util.ArrayList<>();
        list.forEach(e -> out.add(e.path("name").asText()));
        return out;
    }

    static Stream<Arguments> errors() {
        return Stream.of(
                Arguments.of("$patch: merge on a map is rejected upstream", D,
                        "{'spec':{'selector':{'$patch':'merge','a':'b'}}}",
                        PatchException.Kind.INTERNAL, "unknown patch type: merge in map: map[$patch:merge a:b]"),
                Arguments.of("$patch: merge in a list", D,
                        "{'spec':{'template':{'spec':{'containers':[{'$patch':'merge'}]}}}}",
                        PatchException.Kind.INTERNAL, "merging lists cannot yet be specified in the patch"),
                Arguments.of("unknown $patch value in a list", D,
                        "{'spec':{'template':{'spec':{'containers':[{'name':'web','$patch':'frob'}]}}}}",
                        PatchException.Kind.INTERNAL, "unknown patch type: frob in map: map[$patch:frob name:web]"),
                Arguments.of("merge-list element without merge key", D,
                        "{'spec':{'template':{'spec':{'containers':[{'image':'x'}]}}}}",
                        PatchException.Kind.INTERNAL, "map: map[image:x] does not contain declared merge key: name"),
                Arguments.of("$patch: delete element without merge key", D,
                        "{'spec':{'template':{'spec':{'containers':[{'$patch':'delete'}]}}}}",
                        PatchException.Kind.INTERNAL, "map: map[$patch:delete] does not contain declared merge key: name"),
                Arguments.of("$retainKeys not a list", D,
                        "{'spec':{'strategy':{'$retainKeys':'type','type':'Recreate'}}}",
                        PatchException.Kind.BAD_REQUEST, "invalid patch format of retainKeys"),
                Arguments.of("patch key missing from $retainKeys", D,
                        "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':{'maxSurge':1}}}}",
                        PatchException.Kind.BAD_REQUEST, "invalid patch format of retainKeys"),
                Arguments.of("bad $setElementOrder key", D,
                        "{'spec':{'template':{'spec':{'$setElementOrder':[{'name':'web'}]}}}}",
                        PatchException.Kind.BAD_REQUEST, "invalid patch format of setElementOrder list"),
                Arguments.of("bad $deleteFromPrimitiveList key", D,
                        "{'metadata':{'$deleteFromPrimitiveList':['a']}}",
                        PatchException.Kind.BAD_REQUEST, "invalid patch format of primitive list"),
                Arguments.of("$setElementOrder not a list", D,
                        "{'spec':{'template':{'spec':{'$setElementOrder/containers':'web'}}}}",
                        PatchException.Kind.INTERNAL, "expected a []interface {}, but received a string"),
                Arguments.of("patch list contradicts $setElementOrder", D,
                        "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'web'}],'containers':[{'name':'other'}]}}}}",
                        PatchException.Kind.INTERNAL,
                        "The order in patch list:\n[map[name:other]]\n doesn't match $setElementOrder list:\n[map[name:web]]\n"),
                Arguments.of("list of lists in a merge list", D,
                        "{'spec':{'template':{'spec':{'imagePullSecrets':[['x']]}}}}",
                        PatchException.Kind.INVALID, "lists of lists are not supported"),
                Arguments.of("mixed element types in a merge list", D,
                        "{'metadata':{'finalizers':[1]}}",
                        PatchException.Kind.INTERNAL, "list element types are not identical: [[a b] [1]]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("errors")
    void rejects(String name, PatchSchema schema, String patch, PatchException.Kind kind, String message) {
        JsonNode live = j(LIVE);
        assertThatThrownBy(() -> StrategicMergePatch.apply(live, j(patch), schema))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.kind()).isEqualTo(kind);
                    assertThat(e.getMessage()).isEqualTo(message);
                });
        assertThat(live).isEqualTo(j(LIVE));
    }

    @Test
    void arrayBodyIsBadRequest() {
        assertThatThrownBy(() -> StrategicMergePatch.apply(j(LIVE), b("[{'op':'add'}]"), D))
                .isInstanceOfSatisfying(PatchException.class, e -> {
                    assertThat(e.code()).isEqualTo(400);
                    assertThat(e.statusMessage()).isEqualTo("json: cannot unmarshal array into Go value of type map[string]interface {}");
                });
    }

    @Test
    void invalidJsonIsBadRequest() {
        assertThatThrownBy(() -> StrategicMergePatch.apply(j(LIVE), b("{'spec':"), D))
                .isInstanceOfSatisfying(PatchException.class, e -> assertThat(e.isBadRequest()).isTrue());
    }

    @Test
    void internalErrorsMapTo500WithUnknownReason() {
        PatchException e = new PatchException(PatchException.Kind.INTERNAL, "boom");
        assertThat(e.code()).isEqualTo(500);
        assertThat(e.reason()).isEmpty();
        assertThat(e.statusMessage()).isEqualTo("boom");
    }
}
