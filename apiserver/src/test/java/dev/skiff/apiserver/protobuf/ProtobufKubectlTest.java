package dev.skiff.apiserver.protobuf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import com.google.protobuf.Message;
import io.kubernetes.client.proto.Meta;
import io.kubernetes.client.proto.V1;
import io.kubernetes.client.proto.V1Autoscaling;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * kubectl 1.32's typed commands send protobuf bodies (kubectl-compat.md finding 5). Each command
 * runs once with kubectl 1.32 (protobuf) and once with kubectl 1.31 (JSON, the same Go object):
 * the stored objects must be the same, which checks the converter against kubectl's own JSON.
 */
class ProtobufKubectlTest {
  private static final String V1_31 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static TestServer server;
  private static Kubectl k132;
  private static Kubectl k131;
  private static Kubectl k133;
  private static java.nio.file.Path binaryFile;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    k132 = server.kubectl();
    k131 = server.kubectl(V1_31);
    k133 = server.kubectl(Kubectl.V1_33);
    k132.run("create", "serviceaccount", "warm-up").ok(); // discovery cache
    k132.run("create", "cronjob", "source", "--image=busybox", "--schedule=0 * * * *").ok();
    binaryFile = java.nio.file.Files.createTempFile("protobuf-test", ".bin");
    byte[] all = new byte[256];
    for (int i = 0; i < all.length; i++) {
      all[i] = (byte) i;
    }
    java.nio.file.Files.write(binaryFile, all);
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    java.nio.file.Files.deleteIfExists(binaryFile);
  }

  /** resource, then the create arguments; N is replaced by the object's name. */
  static Stream<Arguments> commands() {
    return Stream.of(
        Arguments.of("namespace", List.of("create", "namespace", "N")),
        Arguments.of("configmap", List.of("create", "configmap", "N", "--from-literal=a=b", "--from-literal=n=1")),
        Arguments.of("secret", List.of("create", "secret", "generic", "N", "--from-literal=p=q")),
        Arguments.of("secret", List.of("create", "secret", "docker-registry", "N", "--docker-username=u", "--docker-password=p")),
        Arguments.of("deployment", List.of("create", "deployment", "N", "--image=nginx", "--replicas=2", "--port=80")),
        Arguments.of("deployment", List.of("create", "deployment", "N", "--image=nginx", "--replicas=0")),
        Arguments.of("job", List.of("create", "job", "N", "--image=busybox", "--", "echo", "hi")),
        Arguments.of("cronjob", List.of("create", "cronjob", "N", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi")),
        Arguments.of("service", List.of("create", "service", "clusterip", "N", "--tcp=80:8080")),
        Arguments.of("service", List.of("create", "service", "nodeport", "N", "--tcp=81:http")),
        Arguments.of("role", List.of("create", "role", "N", "--verb=get", "--resource=pods")),
        Arguments.of("rolebinding", List.of("create", "rolebinding", "N", "--role=r", "--user=u", "--serviceaccount=default:sa")),
        Arguments.of("clusterrole", List.of("create", "clusterrole", "N", "--verb=get", "--resource=nodes", "--non-resource-url=/logs/*")),
        Arguments.of("clusterrolebinding", List.of("create", "clusterrolebinding", "N", "--clusterrole=view", "--group=g")),
        Arguments.of("serviceaccount", List.of("create", "serviceaccount", "N")),
        Arguments.of("quota", List.of("create", "quota", "N", "--hard=pods=2,cpu=500m,memory=1Gi", "--scopes=BestEffort")),
        Arguments.of("priorityclass", List.of("create", "priorityclass", "N", "--value=1000", "--description=d")),
        Arguments.of("poddisruptionbudget", List.of("create", "pdb", "N", "--selector=app=x", "--min-available=1")),
        Arguments.of("poddisruptionbudget", List.of("create", "pdb", "N", "--selector=app=x", "--max-unavailable=50%")),
        Arguments.of("ingress", List.of("create", "ingress", "N", "--rule=foo.com/bar*=svc1:8080", "--class=nginx")),
        Arguments.of("clusterrole", List.of("create", "clusterrole", "N", "--aggregation-rule=example.com/aggregate=true")),
        Arguments.of("job", List.of("create", "job", "N", "--from=cronjob/source")),
        Arguments.of("configmap", List.of("create", "configmap", "N", "--from-file=bin=FILE", "--from-literal=t=x")),
        Arguments.of("secret", List.of("create", "secret", "generic", "N", "--from-file=bin=FILE", "--type=example.com/t")),
        Arguments.of("service", List.of("create", "service", "externalname", "N", "--external-name=bar.example.com")),
        Arguments.of("service", List.of("create", "service", "loadbalancer", "N", "--tcp=5678:8080")),
        Arguments.of("deployment", List.of("create", "deployment", "N", "--image=nginx", "--image=busybox")),
        Arguments.of("priorityclass", List.of("create", "priorityclass", "N", "--value=0", "--preemption-policy=Never")));
  }

  private static int counter;

  @ParameterizedTest(name = "{1}")
  @MethodSource("commands")
  void protobufAndJsonCreateTheSameObject(String resource, List<String> args) throws Exception {
    int n = ++counter;
    String pb = "pb" + n;
    String js = "js" + n;
    var created = k132.run(withName(args, pb)).ok();
    assertThat(created.out()).contains(pb).contains("created");
    k131.run(withName(args, js)).ok();
    String v133 = "new" + n;
    k133.run(withName(args, v133)).ok();
    JsonNode fromProtobuf = canonical(get(resource, pb), pb);
    JsonNode fromJson = canonical(get(resource, js), js);
    assertThat(fromProtobuf.toPrettyString()).isEqualTo(fromJson.toPrettyString());
    // kubectl 1.33 sends protobuf too, from the same generators.
    assertThat(canonical(get(resource, v133), v133).toPrettyString()).isEqualTo(fromJson.toPrettyString());
  }

  @Test
  void secretDataIsBase64OfTheLiteral() throws Exception {
    k132.run("create", "secret", "generic", "s", "--from-literal=p=q").ok();
    var r = k132.run("get", "secret", "s", "-o", "jsonpath={.data.p}").ok();
    assertThat(r.out()).isEqualTo(Base64.getEncoder().encodeToString("q".getBytes()));
  }

  @Test
  void deploymentKeepsReplicasAndPort() throws Exception {
    k132.run("create", "deployment", "d", "--image=nginx", "--replicas=2", "--port=80").ok();
    var r = k132.run("get", "deployment", "d", "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort}").ok();
    assertThat(r.out()).isEqualTo("2 80");
    k132.run("create", "deployment", "zero", "--image=nginx", "--replicas=0").ok();
    assertThat(k132.run("get", "deployment", "zero", "-o", "jsonpath={.spec.replicas}").ok().out()).isEqualTo("0");
  }

  @Test
  void serviceTargetPortIsAnInteger() throws Exception {
    k132.run("create", "service", "clusterip", "svc", "--tcp=80:8080").ok();
    JsonNode svc = get("service", "svc");
    assertThat(svc.at("/spec/ports/0/targetPort").isInt()).isTrue();
    assertThat(svc.at("/spec/ports/0/targetPort").asInt()).isEqualTo(8080);
    assertThat(svc.at("/spec/ports/0/port").asInt()).isEqualTo(80);
  }

  @Test
  void configMapQuotaPriorityClassAndPdbKeepTheirValues() throws Exception {
    k132.run("create", "configmap", "c", "--from-literal=a=b", "--from-literal=n=1").ok();
    assertThat(get("configmap", "c").get("data").toString()).isEqualTo("{\"a\":\"b\",\"n\":\"1\"}");
    k132.run("create", "quota", "q", "--hard=pods=2").ok();
    assertThat(get("resourcequota", "q").at("/spec/hard/pods").asText()).isEqualTo("2");
    k132.run("delete", "resourcequota", "q").ok(); // quotas are enforced: don't cap the other tests' pods
    k132.run("create", "priorityclass", "pc", "--value=1000").ok();
    assertThat(get("priorityclass", "pc").get("value").asInt()).isEqualTo(1000);
    k132.run("create", "pdb", "p", "--selector=app=x", "--min-available=1").ok();
    JsonNode pdb = get("poddisruptionbudget", "p");
    assertThat(pdb.at("/spec/minAvailable").isInt()).isTrue();
    assertThat(pdb.at("/spec/selector/matchLabels/app").asText()).isEqualTo("x");
  }

  @Test
  void jobCronJobRbacAndServiceAccount() throws Exception {
    k132.run("create", "job", "j", "--image=busybox", "--", "echo", "hi").ok();
    assertThat(get("job", "j").at("/spec/template/spec/containers/0/command").toString()).isEqualTo("[\"echo\",\"hi\"]");
    k132.run("create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi").ok();
    assertThat(get("cronjob", "cj").at("/spec/schedule").asText()).isEqualTo("*/5 * * * *");
    k132.run("create", "role", "r", "--verb=get", "--resource=pods").ok();
    assertThat(get("role", "r").at("/rules/0/verbs/0").asText()).isEqualTo("get");
    k132.run("create", "rolebinding", "rb", "--role=r", "--user=u").ok();
    JsonNode rb = get("rolebinding", "rb");
    assertThat(rb.at("/roleRef/name").asText()).isEqualTo("r");
    assertThat(rb.at("/subjects/0/name").asText()).isEqualTo("u");
    k132.run("create", "clusterrole", "cr", "--verb=get", "--resource=nodes").ok();
    k132.run("create", "serviceaccount", "sa1").ok();
    assertThat(k132.run("get", "clusterrole/cr", "serviceaccount/sa1", "-o", "name").ok().out())
        .contains("clusterrole.rbac.authorization.k8s.io/cr", "serviceaccount/sa1");
  }

  @Test
  void kubectl133AlsoSendsProtobuf() throws Exception {
    Kubectl k133 = server.kubectl(Kubectl.V1_33);
    k133.run("create", "namespace", "ns133").ok();
    k133.run("create", "configmap", "c133", "--from-literal=a=b").ok();
    k133.run("create", "deployment", "d133", "--image=nginx", "--replicas=3").ok();
    assertThat(get("configmap", "c133").at("/data/a").asText()).isEqualTo("b");
    assertThat(get("deployment", "d133").at("/spec/replicas").asInt()).isEqualTo(3);
    assertThat(k133.run("get", "namespace", "ns133", "-o", "name").ok().out()).contains("namespace/ns133");
  }

  @Test
  void kubectl127SendsJsonAndStillWorks() throws Exception {
    Kubectl k127 = server.kubectl(Kubectl.V1_27);
    k127.run("create", "configmap", "c127", "--from-literal=a=b").ok();
    assertThat(get("configmap", "c127").at("/data/a").asText()).isEqualTo("b");
  }

  private static String[] withName(List<String> args, String name) {
    List<String> out = new ArrayList<>();
    for (String a : args) {
      out.add(a.equals("N") ? name : a.replace("FILE", binaryFile.toString()));
    }
    return out.toArray(String[]::new);
  }

  private static JsonNode get(String resource, String name) throws Exception {
    return MAPPER.readTree(k132.run("get", resource, name, "-o", "json").ok().out());
  }

  /** The object without what differs between two creations: identity, times, versions, the name. */
  private static JsonNode canonical(JsonNode obj, String name) throws Exception {
    String uid = obj.at("/metadata/uid").asText();
    if (!uid.isEmpty()) {
      obj = MAPPER.readTree(obj.toString().replace(uid, "UID")); // a Job's selector labels carry it
    }
    ObjectNode meta = (ObjectNode) obj.get("metadata");
    for (String f : List.of("uid", "creationTimestamp", "resourceVersion")) {
      meta.remove(f);
    }
    for (JsonNode mf : meta.path("managedFields")) {
      ((ObjectNode) mf).remove("time");
    }
    // A Service's clusterIP and nodePorts are allocated: equal objects differ there by design.
    if ("Service".equals(obj.path("kind").asText()) && obj.get("spec") instanceof ObjectNode spec) {
      if (spec.has("clusterIP") && !"None".equals(spec.path("clusterIP").asText())) {
        spec.put("clusterIP", "ALLOCATED");
        spec.putArray("clusterIPs").add("ALLOCATED");
      }
      for (JsonNode p : spec.path("ports")) {
        if (p.has("nodePort")) {
          ((ObjectNode) p).put("nodePort", 0);
        }
      }
    }
    return MAPPER.readTree(obj.toString().replace("\"" + name + "\"", "\"NAME\"").replace(name + "-", "NAME-")
        .replace("=" + name, "=NAME").replace(":" + name + "\"", ":NAME\""));
  }

  @Test
  void kubectl132ReallySendsProtobuf() throws Exception {
    var r = k132.run("create", "configmap", "verbose", "--from-literal=a=b", "-v=8").ok();
    assertThat(r.err()).contains("Content-Type: application/vnd.kubernetes.protobuf");
    assertThat(r.out()).contains("configmap/verbose created");
  }

  private static HttpResponse<String> send(String method, String path, String contentType, String accept, byte[] body)
      throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + path))
        .header("Content-Type", contentType).header("Accept", accept)
        .method(method, HttpRequest.BodyPublishers.ofByteArray(body)).build();
    return server.http().send(req, HttpResponse.BodyHandlers.ofString());
  }

  private static final String PB = ProtobufBodyDecoder.MEDIA_TYPE;

  @Test
  void protobufOnlyAcceptIsAnsweredWithJson() throws Exception {
    V1.ConfigMap cm = V1.ConfigMap.newBuilder().setMetadata(Meta.ObjectMeta.newBuilder().setName("raw")).putData("k", "v").build();
    var r = send("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", PB, PB,
        ProtobufBodyDecoderTest.envelope("v1", "ConfigMap", cm));
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(MAPPER.readTree(r.body()).at("/data/k").asText()).isEqualTo("v");
    var list = send("GET", "/api/v1/namespaces/default/configmaps", PB, PB + ";as=Table;v=v1;g=meta.k8s.io," + PB, new byte[0]);
    assertThat(list.statusCode()).isEqualTo(200);
  }

  @Test
  void garbageAndWrongKindsAreBadRequests() throws Exception {
    var r = send("POST", "/api/v1/namespaces", PB, "application/json", "{\"kind\":\"Namespace\"}".getBytes());
    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode status = MAPPER.readTree(r.body());
    assertThat(status.get("kind").asText()).isEqualTo("Status");
    assertThat(status.get("reason").asText()).isEqualTo("BadRequest");
    assertThat(status.get("message").asText()).contains("provided data does not appear to be a protobuf message");
    Message cm = V1.ConfigMap.newBuilder().setMetadata(Meta.ObjectMeta.newBuilder().setName("x")).build();
    var wrong = send("POST", "/api/v1/namespaces", PB, "application/json", ProtobufBodyDecoderTest.envelope("v1", "ConfigMap", cm));
    assertThat(wrong.statusCode()).isEqualTo(400);
  }

  @Test
  void scaleAndBindingAcceptProtobuf() throws Exception {
    k132.run("create", "deployment", "scaled", "--image=nginx").ok();
    V1Autoscaling.Scale scale = V1Autoscaling.Scale.newBuilder().setMetadata(Meta.ObjectMeta.newBuilder().setName("scaled"))
        .setSpec(V1Autoscaling.ScaleSpec.newBuilder().setReplicas(4)).build();
    var r = send("PUT", "/apis/apps/v1/namespaces/default/deployments/scaled/scale", PB, "application/json",
        ProtobufBodyDecoderTest.envelope("autoscaling/v1", "Scale", scale));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(get("deployment", "scaled").at("/spec/replicas").asInt()).isEqualTo(4);

    // The comparison tests leave quotas (enforced, with cpu/memory) in this namespace.
    k132.run("delete", "resourcequota", "--all").ok();
    V1.Pod pod = V1.Pod.newBuilder().setMetadata(Meta.ObjectMeta.newBuilder().setName("bound"))
        .setSpec(V1.PodSpec.newBuilder().addContainers(V1.Container.newBuilder().setName("c").setImage("nginx"))).build();
    var created = send("POST", "/api/v1/namespaces/default/pods", PB, "application/json",
        ProtobufBodyDecoderTest.envelope("v1", "Pod", pod));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    V1.Binding binding = V1.Binding.newBuilder().setMetadata(Meta.ObjectMeta.newBuilder().setName("bound"))
        .setTarget(V1.ObjectReference.newBuilder().setKind("Node").setName("n1")).build();
    var b = send("POST", "/api/v1/namespaces/default/pods/bound/binding", PB, "application/json",
        ProtobufBodyDecoderTest.envelope("v1", "Binding", binding));
    assertThat(b.statusCode()).as(b.body()).isEqualTo(201);
    assertThat(get("pod", "bound").at("/spec/nodeName").asText()).isEqualTo("n1");
  }

  @Test
  void deleteOptionsMayBeProtobuf() throws Exception {
    k132.run("create", "configmap", "doomed").ok();
    Message opts = Meta.DeleteOptions.newBuilder().setGracePeriodSeconds(0)
        .setPreconditions(Meta.Preconditions.newBuilder().setUid("not-the-uid")).build();
    var conflict = send("DELETE", "/api/v1/namespaces/default/configmaps/doomed", PB, "application/json",
        ProtobufBodyDecoderTest.envelope("v1", "DeleteOptions", opts));
    assertThat(conflict.statusCode()).as(conflict.body()).isEqualTo(409);
    String uid = get("configmap", "doomed").at("/metadata/uid").asText();
    Message right = Meta.DeleteOptions.newBuilder().setPreconditions(Meta.Preconditions.newBuilder().setUid(uid)).build();
    var ok = send("DELETE", "/api/v1/namespaces/default/configmaps/doomed", PB, "application/json",
        ProtobufBodyDecoderTest.envelope("meta.k8s.io/v1", "DeleteOptions", right));
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
  }

  /**
   * How the reviews and token requests (served by code) read kubectl's protobuf bodies: stand-in
   * handlers answer from what {@code readObject} decoded.
   */
  @Test
  void virtualResourcesReadProtobufBodies() throws Exception {
    ProtobufBodyDecoder pb = server.server().protobuf();
    java.util.List<ObjectNode> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    server.server().handler().addVirtual("authorization.k8s.io", "v1", "selfsubjectaccessreviews", (ex, info) -> {
      ObjectNode review = pb.readObject(ex);
      seen.add(review.deepCopy());
      review.putObject("status").put("allowed", true);
      ex.json(201, MAPPER.writeValueAsBytes(review));
    });
    server.server().handler().addVirtual("", "v1", "serviceaccounts/token", (ex, info) -> {
      ObjectNode request = pb.readObject(ex);
      seen.add(request.deepCopy());
      request.putObject("status").put("token", "token-for-" + info.name())
          .put("expirationTimestamp", "2030-01-01T00:00:00Z");
      ex.json(201, MAPPER.writeValueAsBytes(request));
    });
    assertThat(k132.run("auth", "can-i", "create", "deployments", "-n", "default").ok().out().trim()).isEqualTo("yes");
    assertThat(seen.get(0).get("kind").asText()).isEqualTo("SelfSubjectAccessReview");
    assertThat(seen.get(0).at("/spec/resourceAttributes")).isEqualTo(MAPPER.readTree(
        "{\"namespace\":\"default\",\"verb\":\"create\",\"group\":\"apps\",\"resource\":\"deployments\"}"));
    assertThat(k132.run("create", "token", "warm-up", "--duration=1h").ok().out().trim()).isEqualTo("token-for-warm-up");
    assertThat(seen.get(1).get("kind").asText()).isEqualTo("TokenRequest");
    assertThat(seen.get(1).at("/spec/expirationSeconds").asLong()).isEqualTo(3600);
    // kubectl 1.27 sends the same review as JSON; readObject takes both.
    assertThat(server.kubectl(Kubectl.V1_27).run("auth", "can-i", "get", "pods").ok().out().trim()).isEqualTo("yes");
    assertThat(seen.get(2).at("/spec/resourceAttributes/verb").asText()).isEqualTo("get");
  }
}
