package dev.skiff.apiserver.knative;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.RequestUser;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Knative Serving's defaulting and validating webhooks, as an admission plugin for the
 * serving.knative.dev resources (knative.dev/serving pkg/apis/serving/v1/*_defaults.go,
 * *_validation.go, pkg/apis/serving/k8s_validation.go). Refusals are 422 with Knative's own
 * message text behind kube-apiserver's "admission webhook ... denied the request" prefix.
 *
 * <p>Defaults: {@code timeoutSeconds} (config-defaults {@code revision-timeout-seconds}, 300),
 * {@code containerConcurrency} ({@code container-concurrency}, 0), {@code enableServiceLinks}
 * false, container name {@code user-container}, a TCP readiness probe (successThreshold 1) on the
 * serving container, read-only mounts of configMap/secret/projected volumes, traffic
 * {@code [{latestRevision: true, percent: 100}]} for a Service without traffic, each target's
 * {@code latestRevision} from whether it names a revision and a missing {@code percent} as 0; the
 * {@code serving.knative.dev/creator} / {@code lastModifier} annotations on objects nobody owns.
 *
 * <p>Validation: the pod spec (one container, a single port with a name of "", http1 or h2c, no
 * reserved ports 8012/8013/8022/9090/9091/8008, no reserved env vars PORT/K_SERVICE/K_CONFIGURATION/
 * K_REVISION, an image, probes with one handler on the serving port), {@code timeoutSeconds} within
 * 0..{@code max-revision-timeout-seconds} (600), {@code containerConcurrency} within
 * 0..{@code container-concurrency-max-limit} (1000), BYO revision names ({@code <parent>-} prefix,
 * DNS-1035, not with a generateName parent), a template change without a name change when a name
 * was given, traffic (sums to 100, percents 0..100, revisionName xor configurationName, no
 * configurationName in a Service, latestRevision agreeing with revisionName, unique DNS-1035 tags,
 * no url), and immutable Revision specs. Status writes are not checked (they come from the
 * controllers).
 *
 * <p>Reads knative-serving/config-defaults on each write (from the watch cache). Thread-safe.
 */
final class KnativeAdmission implements Admission {
  static final String GROUP = "serving.knative.dev";
  static final String CREATOR = GROUP + "/creator";
  static final String LAST_MODIFIER = GROUP + "/lastModifier";
  private static final Set<Integer> RESERVED_PORTS = Set.of(8012, 8013, 8022, 9090, 9091, 8008);
  private static final Set<String> RESERVED_ENV = Set.of("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION");
  private static final Set<String> PORT_NAMES = Set.of("", "h2c", "http1");
  private static final Pattern DNS1035 = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern QUALIFIED = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");

  private final ResourceRegistry registry;

  KnativeAdmission(ResourceRegistry registry) {
    this.registry = registry;
  }

  /** config-defaults values (pkg/apis/config/defaults.go). */
  record Defaults(long timeoutSeconds, long maxTimeoutSeconds, long containerConcurrency, long maxContainerConcurrency,
      String containerName) {}

  @Override
  public void admit(ResourceDescriptor d, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (!GROUP.equals(d.group) || options.status()) {
      return;
    }
    if ("v1alpha1".equals(d.version) && "Service".equals(d.kind)) {
      ObjectNode v1 = ServiceConversion.toV1(obj);
      admitV1(d.kind, v1, old == null ? null : ServiceConversion.toV1(old));
      ObjectNode back = ServiceConversion.toV1alpha1(v1);
      obj.removeAll();
      obj.setAll(back);
      return;
    }
    if ("v1".equals(d.version)) {
      admitV1(d.kind, obj, old);
    }
  }

  private void admitV1(String kind, ObjectNode obj, ObjectNode old) {
    Defaults defaults = defaults();
    FieldErrors errs = new FieldErrors();
    ObjectNode spec = Json.with(obj, "spec");
    switch (kind) {
      case "Service" -> {
        defaultTemplate(spec, defaults);
        defaultTraffic(spec, true);
        setUserInfo(obj, old);
        validateTemplate(obj, spec, old, defaults, errs);
        validateTraffic(spec.path("traffic"), true, errs, "spec.traffic");
      }
      case "Configuration" -> {
        defaultTemplate(spec, defaults);
        setUserInfo(obj, old);
        validateTemplate(obj, spec, old, defaults, errs);
      }
      case "Route" -> {
        defaultTraffic(spec, false);
        setUserInfo(obj, old);
        validateTraffic(spec.path("traffic"), false, errs, "spec.traffic");
      }
      case "Revision" -> {
        if (old == null) {
          defaultRevisionSpec(spec, defaults);
          validateRevisionSpec(spec, defaults, errs, "spec");
        } else if (!old.path("spec").equals(spec)) {
          errs.add("Immutable fields changed (-old +new)", TemplateDiff.diff(old.path("spec"), spec, "spec"), "spec");
        }
      }
      default -> {
        return;
      }
    }
    if (!errs.isEmpty()) {
      throw errs.toException(GROUP, kind, Meta.name(obj));
    }
  }

  // ---------------------------------------------------------------- config-defaults

  Defaults defaults() {
    Map<String, String> cm = Map.of();
    try {
      ResourceStore cms = registry.store("", "v1", "configmaps");
      var cached = cms == null ? null : cms.cache().get(cms.descriptor().key("knative-serving", "config-defaults"));
      if (cached != null) {
        java.util.HashMap<String, String> m = new java.util.HashMap<>();
        Json.parseObject(cached.json()).path("data").properties().forEach(e -> m.put(e.getKey(), e.getValue().asText()));
        cm = m;
      }
    } catch (RuntimeException e) {
      // No ConfigMap or an unreadable one: Knative's built-in defaults.
    }
    return new Defaults(number(cm, "revision-timeout-seconds", 300), number(cm, "max-revision-timeout-seconds", 600),
        number(cm, "container-concurrency", 0), number(cm, "container-concurrency-max-limit", 1000),
        cm.getOrDefault("container-name-template", "user-container"));
  }

  private static long number(Map<String, String> cm, String key, long dflt) {
    try {
      return cm.containsKey(key) ? Long.parseLong(cm.get(key).trim()) : dflt;
    } catch (NumberFormatException e) {
      return dflt;
    }
  }

  // ---------------------------------------------------------------- defaulting

  private static void defaultTemplate(ObjectNode spec, Defaults defaults) {
    ObjectNode template = Json.with(spec, "template");
    defaultRevisionSpec(Json.with(template, "spec"), defaults);
  }

  /** RevisionSpec.SetDefaults (revision_defaults.go). */
  static void defaultRevisionSpec(ObjectNode rs, Defaults defaults) {
    if (!rs.hasNonNull("timeoutSeconds")) {
      rs.put("timeoutSeconds", defaults.timeoutSeconds());
    }
    if (!rs.hasNonNull("containerConcurrency")) {
      rs.put("containerConcurrency", defaults.containerConcurrency());
    }
    if (!rs.has("enableServiceLinks")) {
      rs.put("enableServiceLinks", false);
    }
    JsonNode cs = rs.path("containers");
    if (!cs.isArray()) {
      return;
    }
    int serving = servingContainer((ArrayNode) cs);
    Set<String> writable = new HashSet<>();
    for (JsonNode v : rs.path("volumes")) {
      if (v.has("emptyDir") || v.has("persistentVolumeClaim")) {
        writable.add(v.path("name").asText());
      }
    }
    for (int i = 0; i < cs.size(); i++) {
      if (!(cs.get(i) instanceof ObjectNode c)) {
        continue;
      }
      if (c.path("name").asText("").isEmpty()) {
        c.put("name", cs.size() == 1 ? defaults.containerName() : defaults.containerName() + "-" + i);
      }
      if (i == serving) {
        ObjectNode probe = c.get("readinessProbe") instanceof ObjectNode p ? p : c.putObject("readinessProbe");
        if (!probe.has("tcpSocket") && !probe.has("httpGet") && !probe.has("exec") && !probe.has("grpc")) {
          probe.putObject("tcpSocket").put("port", 0);
        }
        if (probe.path("successThreshold").asInt(0) == 0) {
          probe.put("successThreshold", 1);
        }
        if (probe.path("periodSeconds").asInt(0) != 0) {
          if (!probe.has("failureThreshold")) {
            probe.put("failureThreshold", 3);
          }
          if (!probe.has("timeoutSeconds")) {
            probe.put("timeoutSeconds", 1);
          }
        }
      }
      for (JsonNode m : c.path("volumeMounts")) {
        if (m instanceof ObjectNode mo && !writable.contains(mo.path("name").asText()) && !mo.path("readOnly").asBoolean(false)) {
          mo.put("readOnly", true);
        }
      }
    }
  }

  /** The serving container: the one with a port, else the first (pkg/apis/serving/v1 revision_helpers). */
  static int servingContainer(ArrayNode cs) {
    for (int i = 0; i < cs.size(); i++) {
      if (cs.get(i).path("ports").size() > 0) {
        return i;
      }
    }
    return 0;
  }

  /** RouteSpec.SetDefaults (route_defaults.go); the Service's default traffic only in a Service. */
  private static void defaultTraffic(ObjectNode spec, boolean inService) {
    JsonNode traffic = spec.get("traffic");
    if ((traffic == null || traffic.isNull() || (traffic.isArray() && traffic.isEmpty())) && inService) {
      ArrayNode t = spec.putArray("traffic");
      t.addObject().put("percent", 100).put("latestRevision", true);
      return;
    }
    if (traffic instanceof ArrayNode arr) {
      for (JsonNode t : arr) {
        if (t instanceof ObjectNode o) {
          if (!o.hasNonNull("latestRevision")) {
            o.put("latestRevision", o.path("revisionName").asText("").isEmpty());
          }
          if (!o.hasNonNull("percent")) {
            o.put("percent", 0);
          }
        }
      }
    }
  }

  /** serving.SetUserInfo: only for objects not owned by another (a Service's children carry its annotations). */
  private static void setUserInfo(ObjectNode obj, ObjectNode old) {
    ObjectNode meta = Meta.meta(obj);
    if (meta.path("ownerReferences").size() > 0) {
      return;
    }
    UserInfo user = RequestUser.current();
    String name = user == null ? "system:admin" : user.name();
    ObjectNode ann = Json.with(meta, "annotations");
    if (old == null) {
      ann.put(CREATOR, name);
      ann.put(LAST_MODIFIER, name);
      return;
    }
    // The creator never changes (apis.ValidateCreatorAndModifier); kept rather than refused, since
    // `kubectl replace` of the original YAML would otherwise be rejected for lacking it.
    String creator = old.path("metadata").path("annotations").path(CREATOR).asText(null);
    if (creator != null) {
      ann.put(CREATOR, creator);
    }
    if (!old.path("spec").equals(obj.path("spec")) || !ann.has(LAST_MODIFIER)) {
      ann.put(LAST_MODIFIER, name);
    } else {
      String last = old.path("metadata").path("annotations").path(LAST_MODIFIER).asText(null);
      if (last != null) {
        ann.put(LAST_MODIFIER, last);
      }
    }
  }

  // ---------------------------------------------------------------- validation

  private void validateTemplate(ObjectNode obj, ObjectNode spec, ObjectNode old, Defaults defaults, FieldErrors errs) {
    JsonNode template = spec.path("template");
    if (!template.isObject()) {
      errs.missing("spec.template");
      return;
    }
    validateRevisionSpec(template.path("spec"), defaults, errs, "spec.template.spec");
    // validateRevisionName (revision_validation.go): BYO names.
    String name = template.path("metadata").path("name").asText("");
    String generateName = template.path("metadata").path("generateName").asText("");
    if (!generateName.isEmpty() && !DNS1035.matcher(generateName.endsWith("-") ? generateName + "a" : generateName).matches()) {
      errs.invalid("not a DNS 1035 label prefix: [" + dns1035Message() + "]", "spec.template.metadata.generateName");
    }
    if (!name.isEmpty()) {
      String parent = Meta.name(obj) == null ? "" : Meta.name(obj);
      if (name.length() > 63 || !DNS1035.matcher(name).matches()) {
        errs.invalid("not a DNS 1035 label: [" + dns1035Message() + "]", "spec.template.metadata.name");
      } else if (parent.isEmpty() && !Meta.meta(obj).path("generateName").asText("").isEmpty()) {
        errs.disallowed("spec.template.metadata.name");
      } else if (!name.startsWith(parent + "-")) {
        errs.invalid("\"" + name + "\" must have prefix \"" + parent + "-\"", "spec.template.metadata.name");
      }
      // VerifyNameChange: the template changed but kept its name.
      if (old != null) {
        JsonNode oldTemplate = old.path("spec").path("template");
        if (name.equals(oldTemplate.path("metadata").path("name").asText("")) && !oldTemplate.equals(template)) {
          errs.add("Saw the following changes without a name change (-old +new)",
              TemplateDiff.diff(oldTemplate, template, "template"), "spec.template.metadata.name");
        }
      }
    }
  }

  private static String dns1035Message() {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
        + "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
        + "is '[a-z]([-a-z0-9]*[a-z0-9])?')";
  }

  /** RevisionSpec.Validate and serving.ValidatePodSpec, for what Skiff runs. */
  static void validateRevisionSpec(JsonNode rs, Defaults defaults, FieldErrors errs, String at) {
    if (rs.has("timeoutSeconds")) {
      long t = rs.path("timeoutSeconds").asLong();
      if (t != 0 && (t < 0 || t > defaults.maxTimeoutSeconds())) {
        errs.outOfBounds(t, 0, defaults.maxTimeoutSeconds(), at + ".timeoutSeconds");
      }
    }
    if (rs.has("containerConcurrency")) {
      long cc = rs.path("containerConcurrency").asLong();
      if (cc < 0 || cc > defaults.maxContainerConcurrency()) {
        errs.outOfBounds(cc, 0, defaults.maxContainerConcurrency(), at + ".containerConcurrency");
      }
    }
    JsonNode cs = rs.path("containers");
    if (!cs.isArray() || cs.isEmpty()) {
      errs.missing(at + ".containers");
      return;
    }
    // validateContainersPorts: a single port across all containers.
    int ports = 0;
    JsonNode port = null;
    for (JsonNode c : cs) {
      if (c.path("ports").size() > 0) {
        ports += c.path("ports").size();
        port = c.path("ports").get(0);
      }
    }
    if (ports > 1) {
      errs.add("more than one container port is set", "Only a single port is allowed across all containers",
          at + ".containers[*].ports");
    }
    if (cs.size() > 1) {
      // Multi-container is behind Knative's "multi-container" feature flag, on by default since 1.0.
      if (ports == 0) {
        errs.missing(at + ".containers[*].ports");
      }
    }
    String portName = port == null ? "http" : port.path("name").asText("").isEmpty() ? "http" : port.path("name").asText();
    int servingIndex = servingContainer((ArrayNode) cs);
    Set<String> names = new HashSet<>();
    for (int i = 0; i < cs.size(); i++) {
      JsonNode c = cs.get(i);
      String p = at + ".containers[" + i + "]";
      if (c.isEmpty()) {
        errs.missing(p);
        continue;
      }
      String cname = c.path("name").asText("");
      if ("queue-proxy".equals(cname)) {
        errs.add("\"queue-proxy\" is a reserved container name", p + ".name");
      }
      if (!cname.isEmpty() && !names.add(cname)) {
        errs.add("duplicate container name \"" + cname + "\"", p + ".name");
      }
      JsonNode env = c.path("env");
      for (int j = 0; j < env.size(); j++) {
        String n = env.get(j).path("name").asText("");
        if (n.isEmpty()) {
          errs.missing(p + ".env[" + j + "].name");
        } else if (RESERVED_ENV.contains(n) && (i == servingIndex || !"PORT".equals(n))) {
          errs.add("\"" + n + "\" is a reserved environment variable", p + ".env[" + j + "].name");
        }
      }
      if (c.path("image").asText("").isEmpty()) {
        errs.missing(p + ".image");
      }
      if (c.path("ports").size() > 0) {
        JsonNode up = c.path("ports").get(0);
        int cp = up.path("containerPort").asInt(0);
        if (RESERVED_PORTS.contains(cp)) {
          errs.invalid(cp + " is a reserved port", p + ".ports.containerPort", cp + " is a reserved port, please use a different value");
        }
        if (cp < 0 || cp > 65535) {
          errs.outOfBounds(cp, 0, 65535, p + ".ports.containerPort");
        }
        String proto = up.path("protocol").asText("");
        if (!proto.isEmpty() && !"TCP".equals(proto)) {
          errs.invalid(proto, p + ".ports.protocol");
        }
        String pn = up.path("name").asText("");
        if (!PORT_NAMES.contains(pn)) {
          errs.add("Port name " + pn + " is not allowed", "Name must be empty, or one of: 'h2c', 'http1'", p + ".ports");
        }
      }
      if (i == servingIndex) {
        validateProbe(c.path("livenessProbe"), portName, errs, p + ".livenessProbe");
        validateProbe(c.path("readinessProbe"), portName, errs, p + ".readinessProbe");
      }
    }
  }

  private static void validateProbe(JsonNode probe, String portName, FieldErrors errs, String at) {
    if (!probe.isObject()) {
      return;
    }
    int handlers = 0;
    for (String h : List.of("httpGet", "tcpSocket", "exec", "grpc")) {
      if (probe.has(h)) {
        handlers++;
      }
    }
    if (handlers == 0) {
      errs.missingOneOf(at + ".httpGet", at + ".tcpSocket", at + ".exec", at + ".grpc");
    } else if (handlers > 1) {
      for (String h : List.of("httpGet", "tcpSocket", "exec", "grpc")) {
        if (probe.has(h)) {
          errs.add("expected exactly one, got both", at + "." + h);
        }
      }
    }
    for (String h : List.of("httpGet", "tcpSocket")) {
      JsonNode p = probe.path(h).path("port");
      if (p.isTextual() && !p.asText().isEmpty() && !p.asText().equals(portName)) {
        errs.invalid(p.asText(), at + "." + h + ".port", "Probe port must match container port");
      }
    }
  }

  /** validateTrafficList and TrafficTarget.Validate (route_validation.go), in spec context. */
  static void validateTraffic(JsonNode traffic, boolean inService, FieldErrors errs, String at) {
    long sum = 0;
    Map<String, Integer> tags = new java.util.HashMap<>();
    int i = 0;
    for (Iterator<JsonNode> it = traffic.isArray() ? traffic.elements() : java.util.Collections.emptyIterator(); it.hasNext(); i++) {
      JsonNode t = it.next();
      String p = at + "[" + i + "]";
      String rev = t.path("revisionName").asText("");
      String cfg = t.path("configurationName").asText("");
      if (t.hasNonNull("latestRevision")) {
        boolean lr = t.path("latestRevision").asBoolean();
        if (!rev.isEmpty() == lr) {
          errs.add("may not set revisionName \"" + rev + "\" when latestRevision is " + lr, p + ".latestRevision");
        }
      }
      if (inService && !cfg.isEmpty()) {
        errs.disallowed(p + ".configurationName");
      } else if (!rev.isEmpty() && !cfg.isEmpty()) {
        errs.multipleOneOf(p + ".configurationName", p + ".revisionName");
      } else if (!rev.isEmpty()) {
        if (rev.length() > 63 || !QUALIFIED.matcher(rev).matches()) {
          errs.add("invalid key name \"" + rev + "\"", p + ".revisionName");
        }
      } else if (!cfg.isEmpty()) {
        if (cfg.length() > 63 || !QUALIFIED.matcher(cfg).matches()) {
          errs.add("invalid key name \"" + cfg + "\"", p + ".configurationName");
        }
      } else if (!inService) {
        errs.missingOneOf(p + ".configurationName", p + ".revisionName");
      }
      if (t.hasNonNull("percent")) {
        long pc = t.path("percent").asLong();
        if (pc < 0 || pc > 100) {
          errs.outOfBounds(pc, 0, 100, p + ".percent");
        }
        sum += pc;
      }
      if (!t.path("url").asText("").isEmpty()) {
        errs.disallowed(p + ".url");
      }
      String tag = t.path("tag").asText("");
      if (!tag.isEmpty()) {
        if (tag.length() > 63 || !DNS1035.matcher(tag).matches()) {
          errs.invalid("not a DNS 1035 label: [" + dns1035Message() + "]", at + "[" + i + "].tag");
        }
        Integer prev = tags.putIfAbsent(tag, i);
        if (prev != null) {
          errs.add("Multiple definitions for \"" + tag + "\"", at + "[" + i + "].tag");
          errs.add("Multiple definitions for \"" + tag + "\"", at + "[" + prev + "].tag");
        }
      }
    }
    if (sum != 100) {
      errs.add("Traffic targets sum to " + sum + ", want 100", at);
    }
  }
}
