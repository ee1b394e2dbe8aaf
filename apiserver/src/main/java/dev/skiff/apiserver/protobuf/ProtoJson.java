package dev.skiff.apiserver.protobuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.SchemaNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Turns a decoded k8s.io/api protobuf message into the JSON object kube-apiserver would hold after
 * decoding it, i.e. what {@code json.Marshal} of the Go struct would give.
 *
 * <p>The generated.proto files are proto2 and go-to-protobuf names fields after their JSON names,
 * with a few exceptions (tables below). The Go marshaller writes every non-pointer field, zero or
 * not, so wire presence alone does not say "set": like Go's {@code omitempty}, zero scalars are
 * left out unless the Go field has no omitempty (OpenAPI lists it as required) or is a pointer,
 * whose explicit zero matters ({@code replicas: 0}); an empty list or map without omitempty is
 * null. Messages are emitted when present, even empty ({@code status: {}}), as Go does for struct
 * fields.
 */
final class ProtoJson {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter RFC3339_MICRO =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

  /** Proto field names that differ from the JSON name (the protobuf tag names the Go field). */
  private static final Map<String, String> RENAMES = Map.of(
      "MutatingWebhookConfiguration.Webhooks", "webhooks",
      "ValidatingWebhookConfiguration.Webhooks", "webhooks",
      "Validation.Expression", "expression",
      "Variable.Expression", "expression",
      "Variable.Name", "name",
      "BoundObjectReference.uID", "uid",
      "IngressClassParametersReference.aPIGroup", "apiGroup",
      "JSONSchemaProps.ref", "$ref",
      "JSONSchemaProps.schema", "$schema");

  /** Embedded Go structs ({@code json:",inline"}): a message field in proto, flattened in JSON. */
  private static final Set<String> INLINE = Set.of(
      "ConfigMapEnvSource.localObjectReference", "ConfigMapKeySelector.localObjectReference",
      "ConfigMapProjection.localObjectReference", "ConfigMapVolumeSource.localObjectReference",
      "SecretEnvSource.localObjectReference", "SecretKeySelector.localObjectReference",
      "SecretProjection.localObjectReference", "EphemeralContainer.ephemeralContainerCommon",
      "PersistentVolumeSpec.persistentVolumeSource", "Probe.handler", "Volume.volumeSource",
      "VolumeMountStatus.volumeStatus", "IngressRule.ingressRuleValue", "NamedRuleWithOperations.ruleWithOperations",
      "RuleWithOperations.rule", "DeviceAllocationConfiguration.deviceConfiguration",
      "DeviceClaimConfiguration.deviceConfiguration", "DeviceClassConfiguration.deviceConfiguration");

  /**
   * Pointer scalars with omitempty (k8s.io/api types.go): present on the wire only when set, so a
   * zero value there is an explicit choice that must survive (an absent replicas defaults to 1).
   */
  private static final Set<String> POINTERS = Set.of(
      // meta/v1
      "ObjectMeta.deletionGracePeriodSeconds", "DeleteOptions.gracePeriodSeconds", "DeleteOptions.orphanDependents",
      "DeleteOptions.propagationPolicy", "DeleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential",
      "Preconditions.uid", "Preconditions.resourceVersion", "OwnerReference.controller",
      "OwnerReference.blockOwnerDeletion", "CreateOptions.force", "PatchOptions.force",
      // core/v1 pods
      "PodSpec.terminationGracePeriodSeconds", "PodSpec.activeDeadlineSeconds", "PodSpec.automountServiceAccountToken",
      "PodSpec.shareProcessNamespace", "PodSpec.priority", "PodSpec.enableServiceLinks", "PodSpec.preemptionPolicy",
      "PodSpec.runtimeClassName", "PodSpec.setHostnameAsFQDN", "PodSpec.hostUsers", "PodSpec.hostnameOverride",
      "Container.restartPolicy", "EphemeralContainerCommon.restartPolicy",
      "SecurityContext.privileged", "SecurityContext.runAsUser", "SecurityContext.runAsGroup",
      "SecurityContext.runAsNonRoot", "SecurityContext.readOnlyRootFilesystem",
      "SecurityContext.allowPrivilegeEscalation", "SecurityContext.procMount",
      "PodSecurityContext.runAsUser", "PodSecurityContext.runAsGroup", "PodSecurityContext.runAsNonRoot",
      "PodSecurityContext.fsGroup", "PodSecurityContext.fsGroupChangePolicy",
      "PodSecurityContext.supplementalGroupsPolicy", "PodSecurityContext.seLinuxChangePolicy",
      "WindowsSecurityContextOptions.gmsaCredentialSpecName", "WindowsSecurityContextOptions.gmsaCredentialSpec",
      "WindowsSecurityContextOptions.runAsUserName", "WindowsSecurityContextOptions.hostProcess",
      "SeccompProfile.localhostProfile", "AppArmorProfile.localhostProfile",
      "Probe.terminationGracePeriodSeconds", "GRPCAction.service", "Toleration.tolerationSeconds",
      "TopologySpreadConstraint.minDomains", "TopologySpreadConstraint.nodeAffinityPolicy",
      "TopologySpreadConstraint.nodeTaintsPolicy", "PodDNSConfigOption.value",
      "VolumeMount.mountPropagation", "VolumeMount.recursiveReadOnly",
      // core/v1 volumes and references
      "ConfigMapKeySelector.optional", "SecretKeySelector.optional", "ConfigMapEnvSource.optional",
      "SecretEnvSource.optional", "ConfigMapVolumeSource.defaultMode", "ConfigMapVolumeSource.optional",
      "SecretVolumeSource.defaultMode", "SecretVolumeSource.optional", "ConfigMapProjection.optional",
      "SecretProjection.optional", "KeyToPath.mode", "DownwardAPIVolumeSource.defaultMode",
      "DownwardAPIVolumeFile.mode", "ProjectedVolumeSource.defaultMode",
      "ServiceAccountTokenProjection.expirationSeconds", "HostPathVolumeSource.type",
      "PersistentVolumeClaimSpec.storageClassName", "PersistentVolumeClaimSpec.volumeMode",
      "PersistentVolumeClaimSpec.volumeAttributesClassName", "CSIVolumeSource.readOnly", "CSIVolumeSource.fsType",
      "ServiceAccount.automountServiceAccountToken", "Secret.immutable", "ConfigMap.immutable",
      "ReplicationControllerSpec.replicas",
      // core/v1 services
      "ServiceSpec.allocateLoadBalancerNodePorts", "ServiceSpec.ipFamilyPolicy", "ServiceSpec.loadBalancerClass",
      "ServiceSpec.internalTrafficPolicy", "ServiceSpec.trafficDistribution", "ClientIPConfig.timeoutSeconds",
      "ServicePort.appProtocol", "EndpointPort.appProtocol",
      // apps/v1
      "DeploymentSpec.replicas", "DeploymentSpec.revisionHistoryLimit", "DeploymentSpec.progressDeadlineSeconds",
      "ReplicaSetSpec.replicas", "StatefulSetSpec.replicas", "StatefulSetSpec.revisionHistoryLimit",
      "RollingUpdateStatefulSetStrategy.partition", "DaemonSetSpec.revisionHistoryLimit",
      "DeploymentStatus.collisionCount", "DaemonSetStatus.collisionCount", "StatefulSetStatus.collisionCount",
      // batch/v1
      "JobSpec.parallelism", "JobSpec.completions", "JobSpec.activeDeadlineSeconds", "JobSpec.backoffLimit",
      "JobSpec.backoffLimitPerIndex", "JobSpec.maxFailedIndexes", "JobSpec.manualSelector",
      "JobSpec.ttlSecondsAfterFinished", "JobSpec.completionMode", "JobSpec.suspend", "JobSpec.podReplacementPolicy",
      "JobSpec.managedBy", "CronJobSpec.timeZone", "CronJobSpec.startingDeadlineSeconds", "CronJobSpec.suspend",
      "CronJobSpec.successfulJobsHistoryLimit", "CronJobSpec.failedJobsHistoryLimit",
      "PodFailurePolicyOnExitCodesRequirement.containerName",
      // autoscaling
      "HorizontalPodAutoscalerSpec.minReplicas", "HorizontalPodAutoscalerSpec.targetCPUUtilizationPercentage",
      "MetricTarget.averageUtilization", "HPAScalingRules.stabilizationWindowSeconds", "HPAScalingRules.selectPolicy",
      // policy, scheduling, networking
      "PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy", "PriorityClass.preemptionPolicy",
      "IngressSpec.ingressClassName", "HTTPIngressPath.pathType", "NetworkPolicyPort.protocol",
      "NetworkPolicyPort.endPort", "IngressClassParametersReference.aPIGroup",
      "IngressClassParametersReference.scope", "IngressClassParametersReference.namespace",
      // authentication, certificates
      "TokenRequestSpec.expirationSeconds", "CertificateSigningRequestSpec.expirationSeconds",
      // storage, coordination, discovery, admission
      "StorageClass.reclaimPolicy", "StorageClass.volumeBindingMode", "StorageClass.allowVolumeExpansion",
      "CSIDriverSpec.attachRequired", "CSIDriverSpec.podInfoOnMount", "CSIDriverSpec.storageCapacity",
      "CSIDriverSpec.requiresRepublish", "CSIDriverSpec.seLinuxMount", "CSIDriverSpec.fsGroupPolicy",
      "LeaseSpec.holderIdentity", "LeaseSpec.leaseDurationSeconds", "LeaseSpec.leaseTransitions",
      "LeaseSpec.preferredHolder", "LeaseSpec.strategy",
      "Endpoint.hostname", "Endpoint.nodeName", "Endpoint.zone", "EndpointConditions.ready",
      "EndpointConditions.serving", "EndpointConditions.terminating",
      "MutatingWebhook.failurePolicy", "MutatingWebhook.sideEffects", "MutatingWebhook.timeoutSeconds",
      "MutatingWebhook.matchPolicy", "MutatingWebhook.reinvocationPolicy", "ValidatingWebhook.failurePolicy",
      "ValidatingWebhook.sideEffects", "ValidatingWebhook.timeoutSeconds", "ValidatingWebhook.matchPolicy",
      "Rule.scope", "ServiceReference.path", "ServiceReference.port");

  /** Optional fields whose Go json tag has no omitempty (not "required" in OpenAPI): Go writes their zero. */
  private static final Set<String> NO_OMITEMPTY = Set.of("Role.rules", "ClusterRole.rules");

  /** How one proto field appears in JSON: its name, flattened into the parent, kept when zero. */
  record FieldLayout(FieldDescriptor fd, String json, boolean inline, boolean emitZero) {
  }

  private final ApiSchemas schemas;
  private final Function<byte[], JsonNode> embedded;
  private final Map<Descriptor, List<FieldLayout>> layouts = new ConcurrentHashMap<>();

  /** {@code embedded} decodes the bytes of a runtime.RawExtension that are not JSON (a nested k8s\0 envelope). */
  ProtoJson(ApiSchemas schemas, Function<byte[], JsonNode> embedded) {
    this.schemas = schemas;
    this.embedded = embedded;
  }

  /** The JSON object of a top-level (or any plain) message. */
  ObjectNode object(Message m) {
    ObjectNode out = F.objectNode();
    fill(out, m);
    return out;
  }

  private void fill(ObjectNode out, Message m) {
    for (FieldLayout fl : layout(m.getDescriptorForType())) {
      FieldDescriptor fd = fl.fd;
      if (fd.isMapField()) {
        int n = m.getRepeatedFieldCount(fd);
        if (n > 0) {
          ObjectNode map = out.putObject(fl.json);
          FieldDescriptor key = fd.getMessageType().findFieldByNumber(1);
          FieldDescriptor value = fd.getMessageType().findFieldByNumber(2);
          for (int i = 0; i < n; i++) {
            Message entry = (Message) m.getRepeatedField(fd, i);
            map.set(String.valueOf(entry.getField(key)), single(value, entry.getField(value)));
          }
        } else if (fl.emitZero) {
          out.putNull(fl.json); // a nil map without omitempty
        }
      } else if (fd.isRepeated()) {
        int n = m.getRepeatedFieldCount(fd);
        if (n > 0) {
          ArrayNode arr = out.putArray(fl.json);
          for (int i = 0; i < n; i++) {
            arr.add(single(fd, m.getRepeatedField(fd, i)));
          }
        } else if (fl.emitZero) {
          out.putNull(fl.json); // Go writes a nil slice without omitempty as null ("rules": null)
        }
      } else if (m.hasField(fd)) {
        Object v = m.getField(fd);
        if (fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
          if (fl.inline) {
            fill(out, (Message) v);
          } else {
            // A zero metav1.Time is null, as Go writes it ("creationTimestamp": null in templates).
            out.set(fl.json, message((Message) v));
          }
        } else if (fl.emitZero || !isZero(v)) {
          out.set(fl.json, scalar(fd, v));
        }
      }
    }
  }

  /** One value of a field: a list element, a map value, or a singular field's value. */
  private JsonNode single(FieldDescriptor fd, Object v) {
    return fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE ? message((Message) v) : scalar(fd, v);
  }

  private static boolean isZero(Object v) {
    return switch (v) {
      case String s -> s.isEmpty();
      case ByteString b -> b.isEmpty();
      case Boolean b -> !b;
      case Number n -> n.doubleValue() == 0;
      default -> false;
    };
  }

  private static JsonNode scalar(FieldDescriptor fd, Object v) {
    return switch (fd.getJavaType()) {
      case STRING -> F.textNode((String) v);
      // Go encodes []byte as standard base64 (encoding/json).
      case BYTE_STRING -> F.textNode(Base64.getEncoder().encodeToString(((ByteString) v).toByteArray()));
      case BOOLEAN -> F.booleanNode((Boolean) v);
      case INT -> F.numberNode((Integer) v);
      case LONG -> integer((Long) v);
      case FLOAT, DOUBLE -> {
        double d = ((Number) v).doubleValue();
        // Go prints an integral float64 without a fraction (1, not 1.0).
        yield d == Math.rint(d) && Math.abs(d) < 1e15 ? integer((long) d) : F.numberNode(d);
      }
      case ENUM -> F.textNode(String.valueOf(v));
      case MESSAGE -> throw new IllegalStateException("not a scalar: " + fd.getFullName());
    };
  }

  /** The node Jackson would parse the same JSON number into, so trees compare equal (no-op updates). */
  private static JsonNode integer(long v) {
    return v == (int) v ? F.numberNode((int) v) : F.numberNode(v);
  }

  /** A message value: the types with their own JSON form, or a plain object. */
  private JsonNode message(Message m) {
    Descriptor d = m.getDescriptorForType();
    switch (d.getFullName()) {
      case "k8s.io.apimachinery.pkg.api.resource.Quantity" -> {
        String s = (String) m.getField(d.findFieldByNumber(1));
        return F.textNode(s.isEmpty() ? "0" : s);
      }
      case "k8s.io.apimachinery.pkg.apis.meta.v1.Time" -> {
        // An empty message is Go's zero time (JSON null); the nanos are dropped on decode
        // (apimachinery pkg/apis/meta/v1/time_proto.go Unmarshal).
        FieldDescriptor seconds = d.findFieldByNumber(1);
        if (!m.hasField(seconds) && !m.hasField(d.findFieldByNumber(2))) {
          return F.nullNode();
        }
        return F.textNode(RFC3339.format(Instant.ofEpochSecond((Long) m.getField(seconds))));
      }
      case "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" -> {
        FieldDescriptor seconds = d.findFieldByNumber(1);
        FieldDescriptor nanos = d.findFieldByNumber(2);
        if (!m.hasField(seconds) && !m.hasField(nanos)) {
          return F.nullNode();
        }
        return F.textNode(RFC3339_MICRO.format(Instant.ofEpochSecond((Long) m.getField(seconds), (Integer) m.getField(nanos))));
      }
      case "k8s.io.apimachinery.pkg.apis.meta.v1.Duration" -> {
        return F.textNode(goDuration((Long) m.getField(d.findFieldByNumber(1))));
      }
      case "k8s.io.apimachinery.pkg.util.intstr.IntOrString" -> {
        long type = (Long) m.getField(d.findFieldByNumber(1));
        return type == 1 ? F.textNode((String) m.getField(d.findFieldByNumber(3)))
            : F.numberNode((Integer) m.getField(d.findFieldByNumber(2)));
      }
      case "k8s.io.apimachinery.pkg.runtime.RawExtension", "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
          "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON",
          "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1beta1.JSON" -> {
        ByteString raw = (ByteString) m.getField(d.findFieldByNumber(1));
        return raw.isEmpty() ? F.nullNode() : embedded.apply(raw.toByteArray());
      }
      case "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs" -> {
        return list(m, d.findFieldByNumber(1));
      }
      default -> {
        if (d.getName().equals("ExtraValue")) { // type ExtraValue []string in authentication, authorization, certificates
          return list(m, d.findFieldByNumber(1));
        }
        if (d.getName().startsWith("JSONSchemaPropsOr")) {
          return schemaOr(m, d);
        }
        return object(m);
      }
    }
  }

  private JsonNode list(Message m, FieldDescriptor items) {
    ArrayNode arr = F.arrayNode();
    for (int i = 0; i < m.getRepeatedFieldCount(items); i++) {
      arr.add(single(items, m.getRepeatedField(items, i)));
    }
    return arr;
  }

  /** JSONSchemaPropsOrArray / OrBool / OrStringArray: the schema when set, else the other form. */
  private JsonNode schemaOr(Message m, Descriptor d) {
    FieldDescriptor schema = d.findFieldByName("schema");
    if (schema != null && m.hasField(schema)) {
      return object((Message) m.getField(schema));
    }
    for (FieldDescriptor f : d.getFields()) {
      if (f != schema) {
        return f.isRepeated() ? list(m, f) : scalar(f, m.getField(f));
      }
    }
    return F.nullNode();
  }

  List<FieldLayout> layout(Descriptor d) {
    return layouts.computeIfAbsent(d, this::computeLayout);
  }

  private List<FieldLayout> computeLayout(Descriptor d) {
    Optional<SchemaNode> def = schemas == null ? Optional.empty() : schemas.definition(openApiName(d));
    Set<String> props = def.map(SchemaNode::fieldNames).orElse(Set.of());
    Set<String> required = new HashSet<>(def.map(SchemaNode::required).orElse(List.of()));
    List<FieldLayout> out = new ArrayList<>();
    for (FieldDescriptor fd : d.getFields()) {
      String key = d.getName() + "." + fd.getName();
      String json = RENAMES.get(key);
      if (json == null && d.getName().equals("JSONSchemaProps") && fd.getName().startsWith("xKubernetes")) {
        json = "x-kubernetes" + fd.getName().substring("xKubernetes".length()).replaceAll("([A-Z])", "-$1").toLowerCase(Locale.ROOT);
      }
      if (json == null) {
        json = fd.getName();
        if (!props.isEmpty() && !props.contains(json)) {
          for (String p : props) {
            if (p.equalsIgnoreCase(json)) {
              json = p;
              break;
            }
          }
        }
      }
      out.add(new FieldLayout(fd, json, INLINE.contains(key), POINTERS.contains(key) || NO_OMITEMPTY.contains(key) || required.contains(json)));
    }
    return List.copyOf(out);
  }

  /** The OpenAPI definition of a message: k8s.io.api.core.v1.Pod is io.k8s.api.core.v1.Pod. */
  static String openApiName(Descriptor d) {
    String n = d.getFullName();
    if (n.startsWith("k8s.io.")) {
      n = "io.k8s." + n.substring("k8s.io.".length());
    }
    return n.replace("apiextensions_apiserver", "apiextensions-apiserver");
  }

  /** Go's time.Duration.String(): "1h2m3.5s", "150ms", "0s". */
  static String goDuration(long nanos) {
    if (nanos == 0) {
      return "0s";
    }
    boolean neg = nanos < 0;
    long u = Math.abs(nanos);
    StringBuilder sb = new StringBuilder();
    if (u < 1_000_000_000L) {
      String unit;
      long div;
      if (u < 1_000L) {
        unit = "ns";
        div = 1;
      } else if (u < 1_000_000L) {
        unit = "µs";
        div = 1_000L;
      } else {
        unit = "ms";
        div = 1_000_000L;
      }
      sb.append(fraction(u, div)).append(unit);
    } else {
      long h = u / 3_600_000_000_000L;
      long rem = u % 3_600_000_000_000L;
      long min = rem / 60_000_000_000L;
      long secNanos = rem % 60_000_000_000L;
      if (h > 0) {
        sb.append(h).append('h');
      }
      if (h > 0 || min > 0) {
        sb.append(min).append('m');
      }
      sb.append(fraction(secNanos, 1_000_000_000L)).append('s');
    }
    return (neg ? "-" : "") + sb;
  }

  private static String fraction(long v, long div) {
    long whole = v / div;
    long frac = v % div;
    if (frac == 0) {
      return Long.toString(whole);
    }
    String digits = String.format("%0" + Long.toString(div).length() + "d", frac).substring(1).replaceAll("0+$", "");
    return whole + "." + digits;
  }
}
