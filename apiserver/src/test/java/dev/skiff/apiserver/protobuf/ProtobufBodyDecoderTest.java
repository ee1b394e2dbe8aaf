package dev.skiff.apiserver.protobuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Message;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.SchemaNode;
import io.kubernetes.client.proto.IntStr.IntOrString;
import io.kubernetes.client.proto.Meta;
import io.kubernetes.client.proto.Resource.Quantity;
import io.kubernetes.client.proto.Runtime;
import io.kubernetes.client.proto.V1;
import io.kubernetes.client.proto.V1Apps;
import io.kubernetes.client.proto.V1Authentication;
import io.kubernetes.client.proto.V1Authorization;
import io.kubernetes.client.proto.V1Policy;
import io.kubernetes.client.proto.V1Events;
import io.kubernetes.client.proto.V1Scheduling;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The converter on hand-built messages, written the way Go's marshaller writes them. */
class ProtobufBodyDecoderTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final ApiSchemas SCHEMAS = ApiSchemas.withBuiltins();
  private final ProtobufBodyDecoder decoder = new ProtobufBodyDecoder(SCHEMAS);

  static byte[] envelope(String apiVersion, String kind, Message m) {
    byte[] unknown = Runtime.Unknown.newBuilder()
        .setTypeMeta(Runtime.TypeMeta.newBuilder().setApiVersion(apiVersion).setKind(kind))
        .setRaw(m.toByteString()).setContentEncoding("").setContentType("").build().toByteArray();
    byte[] out = new byte[unknown.length + 4];
    out[0] = 'k';
    out[1] = '8';
    out[2] = 's';
    System.arraycopy(unknown, 0, out, 4, unknown.length);
    return out;
  }

  /** ObjectMeta as Go writes it: every non-pointer string present, empty or not, and a zero creationTimestamp. */
  private static Meta.ObjectMeta.Builder meta(String name) {
    return Meta.ObjectMeta.newBuilder().setName(name).setGenerateName("").setNamespace("").setSelfLink("").setUid("")
        .setResourceVersion("").setGeneration(0).setCreationTimestamp(Meta.Time.getDefaultInstance());
  }

  private JsonNode json(String s) throws Exception {
    return MAPPER.readTree(s);
  }

  @Test
  void configMapWithStringAndBinaryMapsAndGoStyleEmptyFields() throws Exception {
    V1.ConfigMap cm = V1.ConfigMap.newBuilder().setMetadata(meta("c").putLabels("app", "x"))
        .putData("a", "b").putData("n", "1").putBinaryData("bin", ByteString.copyFrom(new byte[] {0, 1, (byte) 0xff}))
        .build();
    ObjectNode obj = decoder.decode(envelope("v1", "ConfigMap", cm));
    assertThat(obj).isEqualTo(json("""
        {"apiVersion":"v1","kind":"ConfigMap",
         "metadata":{"name":"c","creationTimestamp":null,"labels":{"app":"x"}},
         "data":{"a":"b","n":"1"},"binaryData":{"bin":"AAH/"}}"""));
  }

  @Test
  void secretBytesAreBase64() throws Exception {
    V1.Secret s = V1.Secret.newBuilder().setMetadata(meta("s")).setType("Opaque")
        .putData("p", ByteString.copyFromUtf8("q")).putStringData("x", "y").build();
    ObjectNode obj = decoder.decode(envelope("v1", "Secret", s));
    assertThat(obj.get("data")).isEqualTo(json("{\"p\":\"cQ==\"}"));
    assertThat(obj.get("stringData")).isEqualTo(json("{\"x\":\"y\"}"));
    assertThat(obj.get("type").asText()).isEqualTo("Opaque");
  }

  @Test
  void quantitiesBecomeStrings() throws Exception {
    V1.ResourceQuota q = V1.ResourceQuota.newBuilder().setMetadata(meta("q"))
        .setSpec(V1.ResourceQuotaSpec.newBuilder()
            .putHard("pods", Quantity.newBuilder().setString("2").build())
            .putHard("memory", Quantity.newBuilder().setString("1Gi").build())
            .putHard("cpu", Quantity.newBuilder().setString("").build()))
        .build();
    ObjectNode obj = decoder.decode(envelope("v1", "ResourceQuota", q));
    assertThat(obj.get("spec")).isEqualTo(json("{\"hard\":{\"pods\":\"2\",\"memory\":\"1Gi\",\"cpu\":\"0\"}}"));
  }

  @Test
  void timesAreRfc3339AndMicroTimesKeepMicroseconds() throws Exception {
    long seconds = Instant.parse("2026-01-02T03:04:05Z").getEpochSecond();
    V1Events.Event e = V1Events.Event.newBuilder()
        .setMetadata(meta("e").setCreationTimestamp(Meta.Time.newBuilder().setSeconds(seconds).setNanos(123_000_000)))
        .setEventTime(Meta.MicroTime.newBuilder().setSeconds(seconds).setNanos(123_456_789))
        .setDeprecatedFirstTimestamp(Meta.Time.newBuilder().setSeconds(0).setNanos(0))
        .setReason("R").build();
    ObjectNode obj = decoder.decode(envelope("events.k8s.io/v1", "Event", e));
    assertThat(obj.at("/metadata/creationTimestamp").asText()).isEqualTo("2026-01-02T03:04:05Z");
    assertThat(obj.get("eventTime").asText()).isEqualTo("2026-01-02T03:04:05.123456Z");
    assertThat(obj.get("deprecatedFirstTimestamp").asText()).isEqualTo("1970-01-01T00:00:00Z");
  }

  @Test
  void intOrStringInBothForms() throws Exception {
    V1.Service svc = V1.Service.newBuilder().setMetadata(meta("svc"))
        .setSpec(V1.ServiceSpec.newBuilder().setType("ClusterIP").setClusterIP("").setSessionAffinity("")
            .addPorts(V1.ServicePort.newBuilder().setName("a").setProtocol("TCP").setPort(80).setNodePort(0)
                .setTargetPort(IntOrString.newBuilder().setType(0).setIntVal(8080).setStrVal("")))
            .addPorts(V1.ServicePort.newBuilder().setName("b").setProtocol("TCP").setPort(81).setNodePort(0)
                .setTargetPort(IntOrString.newBuilder().setType(1).setIntVal(0).setStrVal("http"))))
        .setStatus(V1.ServiceStatus.newBuilder().setLoadBalancer(V1.LoadBalancerStatus.getDefaultInstance()))
        .build();
    ObjectNode obj = decoder.decode(envelope("v1", "Service", svc));
    assertThat(obj.get("spec")).isEqualTo(json("""
        {"type":"ClusterIP","ports":[
          {"name":"a","protocol":"TCP","port":80,"targetPort":8080},
          {"name":"b","protocol":"TCP","port":81,"targetPort":"http"}]}"""));
    assertThat(obj.get("status")).isEqualTo(json("{\"loadBalancer\":{}}"));
  }

  @Test
  void pointerZeroesSurviveAndNonPointerZeroesAreOmitted() throws Exception {
    V1Apps.Deployment d = V1Apps.Deployment.newBuilder().setMetadata(meta("d"))
        .setSpec(V1Apps.DeploymentSpec.newBuilder().setReplicas(0).setMinReadySeconds(0).setPaused(false)
            .setSelector(Meta.LabelSelector.newBuilder().putMatchLabels("app", "d"))
            .setTemplate(V1.PodTemplateSpec.newBuilder().setMetadata(meta("").putLabels("app", "d"))
                .setSpec(V1.PodSpec.newBuilder().setHostNetwork(false).setAutomountServiceAccountToken(false)
                    .addContainers(V1.Container.newBuilder().setName("nginx").setImage("nginx").setTty(false)
                        .addPorts(V1.ContainerPort.newBuilder().setContainerPort(80).setHostPort(0).setProtocol("")))))
            .setStrategy(V1Apps.DeploymentStrategy.newBuilder().setType("")))
        .build();
    ObjectNode obj = decoder.decode(envelope("apps/v1", "Deployment", d));
    assertThat(obj.get("spec")).isEqualTo(json("""
        {"replicas":0,"selector":{"matchLabels":{"app":"d"}},
         "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"d"}},
           "spec":{"automountServiceAccountToken":false,
             "containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}]}]}},
         "strategy":{}}"""));

    // PriorityClass.value has no omitempty (OpenAPI: required), so Go writes a zero.
    V1Scheduling.PriorityClass pc = V1Scheduling.PriorityClass.newBuilder().setMetadata(meta("pc")).setValue(0)
        .setGlobalDefault(false).setDescription("").build();
    assertThat(decoder.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", pc)).get("value").asInt()).isZero();
  }

  @Test
  void embeddedStructsAreInlined() throws Exception {
    V1.Pod pod = V1.Pod.newBuilder().setMetadata(meta("p"))
        .setSpec(V1.PodSpec.newBuilder()
            .addVolumes(V1.Volume.newBuilder().setName("v").setVolumeSource(V1.VolumeSource.newBuilder()
                .setConfigMap(V1.ConfigMapVolumeSource.newBuilder()
                    .setLocalObjectReference(V1.LocalObjectReference.newBuilder().setName("cm")).setDefaultMode(420))))
            .addContainers(V1.Container.newBuilder().setName("c").setImage("i")
                .setLivenessProbe(V1.Probe.newBuilder().setPeriodSeconds(5)
                    .setHandler(V1.ProbeHandler.newBuilder().setHttpGet(V1.HTTPGetAction.newBuilder().setPath("/")
                        .setPort(IntOrString.newBuilder().setType(1).setStrVal("http")))))))
        .build();
    ObjectNode obj = decoder.decode(envelope("v1", "Pod", pod));
    assertThat(obj.at("/spec/volumes/0")).isEqualTo(json("{\"name\":\"v\",\"configMap\":{\"name\":\"cm\",\"defaultMode\":420}}"));
    assertThat(obj.at("/spec/containers/0/livenessProbe"))
        .isEqualTo(json("{\"httpGet\":{\"path\":\"/\",\"port\":\"http\"},\"periodSeconds\":5}"));
  }

  @Test
  void rawExtensionsEmbedJson() throws Exception {
    V1Apps.ControllerRevision cr = V1Apps.ControllerRevision.newBuilder().setMetadata(meta("r")).setRevision(3)
        .setData(Runtime.RawExtension.newBuilder().setRaw(ByteString.copyFromUtf8("{\"spec\":{\"a\":[1,2]}}")))
        .build();
    ObjectNode obj = decoder.decode(envelope("apps/v1", "ControllerRevision", cr));
    assertThat(obj.get("data")).isEqualTo(json("{\"spec\":{\"a\":[1,2]}}"));
    assertThat(obj.get("revision").asLong()).isEqualTo(3);
  }

  @Test
  void extraValuesAreArrays() throws Exception {
    V1Authorization.SubjectAccessReview sar = V1Authorization.SubjectAccessReview.newBuilder().setMetadata(meta(""))
        .setSpec(V1Authorization.SubjectAccessReviewSpec.newBuilder().setUser("u").addGroups("g")
            .putExtra("scopes", V1Authorization.ExtraValue.newBuilder().addItems("a").addItems("b").build())
            .setResourceAttributes(V1Authorization.ResourceAttributes.newBuilder().setVerb("get").setResource("pods")
                .setNamespace("").setGroup("")))
        .build();
    ObjectNode obj = decoder.decode(envelope("authorization.k8s.io/v1", "SubjectAccessReview", sar));
    assertThat(obj.get("spec")).isEqualTo(json("""
        {"resourceAttributes":{"verb":"get","resource":"pods"},"user":"u","groups":["g"],"extra":{"scopes":["a","b"]}}"""));
  }

  /** The bodies virtual resources get (auth can-i, create token, drain), decoded without a descriptor. */
  @Test
  void reviewTokenRequestAndEvictionBodies() throws Exception {
    V1Authorization.SelfSubjectAccessReview ssar = V1Authorization.SelfSubjectAccessReview.newBuilder().setMetadata(meta(""))
        .setSpec(V1Authorization.SelfSubjectAccessReviewSpec.newBuilder()
            .setResourceAttributes(V1Authorization.ResourceAttributes.newBuilder().setNamespace("default").setVerb("create")
                .setGroup("apps").setVersion("").setResource("deployments").setSubresource("").setName("")))
        .setStatus(V1Authorization.SubjectAccessReviewStatus.newBuilder().setAllowed(false).setDenied(false)
            .setReason("").setEvaluationError(""))
        .build();
    assertThat(decoder.decode(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", ssar))).isEqualTo(json("""
        {"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{"creationTimestamp":null},
         "spec":{"resourceAttributes":{"namespace":"default","verb":"create","group":"apps","resource":"deployments"}},
         "status":{"allowed":false}}"""));

    V1Authentication.TokenRequest tr = V1Authentication.TokenRequest.newBuilder().setMetadata(meta("sa"))
        .setSpec(V1Authentication.TokenRequestSpec.newBuilder().addAudiences("https://kubernetes.default.svc")
            .setExpirationSeconds(3600))
        .setStatus(V1Authentication.TokenRequestStatus.newBuilder().setToken("")
            .setExpirationTimestamp(Meta.Time.getDefaultInstance()))
        .build();
    ObjectNode token = decoder.decode(envelope("authentication.k8s.io/v1", "TokenRequest", tr));
    assertThat(token.get("spec")).isEqualTo(json("{\"audiences\":[\"https://kubernetes.default.svc\"],\"expirationSeconds\":3600}"));
    assertThat(token.get("kind").asText()).isEqualTo("TokenRequest");

    V1Policy.Eviction ev = V1Policy.Eviction.newBuilder().setMetadata(meta("p").setNamespace("default"))
        .setDeleteOptions(Meta.DeleteOptions.newBuilder().setGracePeriodSeconds(0)).build();
    assertThat(decoder.decode(envelope("policy/v1", "Eviction", ev))).isEqualTo(json("""
        {"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p","namespace":"default","creationTimestamp":null},
         "deleteOptions":{"gracePeriodSeconds":0}}"""));
    assertThat(ProtobufBodyDecoder.isProtobuf("application/vnd.kubernetes.protobuf; charset=utf-8")).isTrue();
    assertThat(ProtobufBodyDecoder.isProtobuf("application/json")).isFalse();
  }

  @Test
  void goDurations() {
    assertThat(ProtoJson.goDuration(0)).isEqualTo("0s");
    assertThat(ProtoJson.goDuration(3_723_500_000_000L)).isEqualTo("1h2m3.5s");
    assertThat(ProtoJson.goDuration(60_000_000_000L)).isEqualTo("1m0s");
    assertThat(ProtoJson.goDuration(150_000_000L)).isEqualTo("150ms");
    assertThat(ProtoJson.goDuration(-1_500_000_000L)).isEqualTo("-1.5s");
  }

  @Test
  void malformedBodiesAreBadRequests() {
    ResourceDescriptor ns = ResourceDescriptor.builder("", "v1", "Namespace", "namespaces").build();
    assertThatThrownBy(() -> decoder.decode(ns, "{\"kind\":\"Namespace\"}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.code()).isEqualTo(400);
          assertThat(e.getMessage()).contains("the object provided is unrecognized (must be of type Namespace): "
              + "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
        });
    byte[] good = envelope("v1", "Namespace", V1.Namespace.newBuilder().setMetadata(meta("n")).build());
    byte[] truncated = java.util.Arrays.copyOf(good, good.length - 3);
    assertThatThrownBy(() -> decoder.decode(ns, truncated))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(400));
    byte[] badRaw = envelopeRaw("v1", "Namespace", new byte[] {0x0a, 0x7f, 0x01});
    assertThatThrownBy(() -> decoder.decode(ns, badRaw))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.code()).isEqualTo(400);
          assertThat(e.getMessage()).startsWith("Namespace in version \"v1\" cannot be handled as a Namespace: ");
        });
    assertThatThrownBy(() -> decoder.decode(envelope("v1", "NoSuchKind", V1.Namespace.getDefaultInstance())))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.getMessage()).contains("no kind \"NoSuchKind\""));
    assertThatThrownBy(() -> decoder.decode(new byte[0]))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(400));
  }

  private static byte[] envelopeRaw(String apiVersion, String kind, byte[] raw) {
    byte[] unknown = Runtime.Unknown.newBuilder()
        .setTypeMeta(Runtime.TypeMeta.newBuilder().setApiVersion(apiVersion).setKind(kind))
        .setRaw(ByteString.copyFrom(raw)).build().toByteArray();
    byte[] out = new byte[unknown.length + 4];
    System.arraycopy(new byte[] {'k', '8', 's', 0}, 0, out, 0, 4);
    System.arraycopy(unknown, 0, out, 4, unknown.length);
    return out;
  }

  /**
   * Every field of every message that has an OpenAPI definition maps to a property of that
   * definition (directly, renamed, or through an inlined struct): the rename and inline tables are
   * complete for the schemas we serve. Fields newer than our schemas (v1.34) are listed.
   */
  @Test
  void jsonNamesMatchTheOpenApiSchemas() {
    Set<String> newerThanSchemas = Set.of(
        "HorizontalPodAutoscalerCondition.observedGeneration", "NodeStatus.declaredFeatures",
        "PodCertificateProjection.userAnnotations", "PodSpec.schedulingGroup", "PodStatus.allocatedResources",
        "PodStatus.nodeAllocatableResourceClaimStatuses", "PodStatus.resources", "ResourceHealth.message",
        "Device.nodeAllocatableResourceMappings", "DeviceAttribute.bools", "DeviceAttribute.ints",
        "DeviceAttribute.strings", "DeviceAttribute.versions", "CSIDriverSpec.preventPodSchedulingIfMissing",
        "CSIDriverSpec.serviceAccountTokenInSecrets", "CustomResourceDefinitionCondition.observedGeneration",
        "CustomResourceDefinitionStatus.observedGeneration", "ListMeta.shardInfo", "VolumeStatus.image");
    ProtoJson pj = new ProtoJson(SCHEMAS, b -> null);
    List<String> problems = new ArrayList<>();
    int checked = 0;
    for (Descriptor d : ProtoTypes.all()) {
      Optional<SchemaNode> def = SCHEMAS.definition(ProtoJson.openApiName(d));
      if (def.isEmpty() || def.get().fieldNames().isEmpty()) {
        continue;
      }
      checked++;
      Set<String> props = def.get().fieldNames();
      for (ProtoJson.FieldLayout f : flattened(pj, d)) {
        String owner = f.fd().getContainingType().getName();
        if (!props.contains(f.json()) && !newerThanSchemas.contains(owner + "." + f.fd().getName())) {
          problems.add(d.getFullName() + "." + f.json());
        }
      }
    }
    assertThat(checked).isGreaterThan(400);
    assertThat(problems).isEmpty();
  }

  /** The fields as they appear in JSON, inlined structs (even nested ones) flattened. */
  private static List<ProtoJson.FieldLayout> flattened(ProtoJson pj, Descriptor d) {
    List<ProtoJson.FieldLayout> out = new ArrayList<>();
    for (ProtoJson.FieldLayout f : pj.layout(d)) {
      if (f.inline()) {
        out.addAll(flattened(pj, f.fd().getMessageType()));
      } else {
        out.add(f);
      }
    }
    return out;
  }
}
