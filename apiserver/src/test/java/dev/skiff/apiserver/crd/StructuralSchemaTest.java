package dev.skiff.apiserver.crd;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import dev.skiff.apiserver.api.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class StructuralSchemaTest {
  static ObjectNode json(String s) {
    return Json.parseObject(s.replace('\'', '"').getBytes(StandardCharsets.UTF_8));
  }

  static final StructuralSchema SCHEMA = new StructuralSchema(json("""
      {'type':'object','properties':{
        'spec':{'type':'object','required':['size'],'properties':{
          'size':{'type':'string','enum':['S','M']},
          'replicas':{'type':'integer','minimum':0,'maximum':10,'default':1},
          'ratio':{'type':'number','exclusiveMinimum':true,'minimum':0},
          'port':{'x-kubernetes-int-or-string':true},
          'labels':{'type':'object','additionalProperties':{'type':'string'}},
          'items':{'type':'array','minItems':1,'items':{'type':'object','properties':{'name':{'type':'string','minLength':2,'default':'xx'}}}},
          'free':{'type':'object','x-kubernetes-preserve-unknown-fields':true,'properties':{'n':{'type':'integer'}}},
          'note':{'type':'string','nullable':true},
          'other':{'type':'string'},
          'res':{'type':'object','x-kubernetes-embedded-resource':true,'properties':{'spec':{'type':'object'}}}}}}}
      """));

  @Test
  void prunesUnknownFieldsAtEveryLevelButKeepsPreservedOnes() {
    ObjectNode o = json("""
        {'apiVersion':'x/v1','kind':'K','metadata':{'name':'a','foo':1},'top':1,
         'spec':{'size':'S','bad':true,'labels':{'a':'b'},'items':[{'name':'ab','zz':1}],
         'free':{'anything':{'deep':1},'n':1},'note':null,'other':null,
         'res':{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{'x':1},'junk':1}}}
        """);
    List<String> unknown = SCHEMA.prune(o);
    assertThat(unknown).containsExactly("metadata.foo", "top", "spec.bad", "spec.items[0].zz", "spec.res.spec.x",
        "spec.res.junk");
    assertThat(o.path("spec").path("free").path("anything").path("deep").asInt()).isEqualTo(1);
    assertThat(o.path("spec").has("note")).as("nullable null kept").isTrue();
    assertThat(o.path("spec").has("other")).as("non-nullable null dropped").isFalse();
    assertThat(o.path("spec").path("res").path("kind").asText()).isEqualTo("Pod");
    assertThat(o.path("metadata").has("foo")).isFalse();
    assertThat(o.path("metadata").path("name").asText()).isEqualTo("a");
  }

  @Test
  void defaultsFillMissingFieldsInsideArraysToo() {
    ObjectNode o = json("{'spec':{'size':'S','items':[{},{'name':'abc'}]}}");
    SCHEMA.applyDefaults(o);
    assertThat(o.path("spec").path("replicas").asInt()).isEqualTo(1);
    assertThat(o.path("spec").path("items").get(0).path("name").asText()).isEqualTo("xx");
    assertThat(o.path("spec").path("items").get(1).path("name").asText()).isEqualTo("abc");
    assertThat(SCHEMA.validate(o)).isEmpty();
  }

  @Test
  void validationMessagesMatchApiextensions() {
    ObjectNode o = json("""
        {'spec':{'replicas':'three','ratio':0,'port':true,'labels':{'a':1},'items':[],
         'res':{'metadata':{'name':'Bad_Name'}}}}
        """);
    List<String> msgs = SCHEMA.validate(o).stream().map(c -> c.field() + ": " + c.message()).toList();
    assertThat(msgs).contains(
        "spec.size: Required value",
        "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
        "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
        "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
        "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"",
        "spec.items: Invalid value: 0: spec.items in body should have at least 1 items",
        "spec.res.apiVersion: Required value: must not be empty",
        "spec.res.kind: Required value: must not be empty");
    assertThat(msgs).anyMatch(m -> m.startsWith("spec.res.metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"));
    List<Cause> enumErr = SCHEMA.validate(json("{'spec':{'size':'XL','replicas':11,'port':'http','items':[{'name':'a'}]}}"));
    assertThat(enumErr.stream().map(c -> c.field() + ": " + c.message()).toList()).containsExactlyInAnyOrder(
        "spec.size: Unsupported value: \"XL\": supported values: \"S\", \"M\"",
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        "spec.items[0].name: Invalid value: \"a\": spec.items[0].name in body should be at least 2 chars long");
    assertThat(enumErr.get(0).type()).isEqualTo("FieldValueNotSupported");
  }

  @Test
  void versionPriorityIsKubeAware() {
    List<String> v = new java.util.ArrayList<>(List.of("v1alpha1", "foo", "v1beta1", "v2", "v1", "v1beta2", "v10"));
    v.sort(CustomResourceManager::compareVersions);
    assertThat(v).containsExactly("v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo");
  }

  @Test
  void crdValidationReportsStructuralProblems() {
    ObjectNode crd = json("""
        {'metadata':{'name':'as.ex.com'},'spec':{'group':'ex.com','scope':'Cluster',
         'names':{'plural':'as','kind':'A'},
         'versions':[{'name':'v1','served':true,'storage':true,'schema':{'openAPIV3Schema':{'type':'object',
           'properties':{'spec':{'properties':{'l':{'type':'array'}}}}}},
           'subresources':{'scale':{'specReplicasPath':'.status.x','statusReplicasPath':'.status.r'}}}]}}
        """);
    List<String> msgs = CrdValidation.validate(crd).stream().map(c -> c.field() + ": " + c.message()).toList();
    assertThat(msgs).containsExactlyInAnyOrder(
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[l].items: Required value: must be specified",
        "spec.versions[0].subresources.scale.specReplicasPath: Invalid value: \".status.x\": should be a json path under .spec");
  }

  @Test
  void protectedGroupsNeedTheApprovalAnnotation() {
    ObjectNode crd = json("""
        {'metadata':{'name':'xs.foo.k8s.io'},'spec':{'group':'foo.k8s.io','scope':'Cluster','names':{'plural':'xs','kind':'X'},
         'versions':[{'name':'v1','served':true,'storage':true,'schema':{'openAPIV3Schema':{'type':'object'}}}]}}
        """);
    assertThat(CrdValidation.validate(crd)).extracting(c -> c.field() + ": " + c.message()).containsExactly(
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "
            + "\"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111");
    ((ObjectNode) crd.get("metadata")).putObject("annotations").put("api-approved.kubernetes.io", "https://github.com/x/y/pull/1");
    assertThat(CrdValidation.validate(crd)).isEmpty();
  }
}
