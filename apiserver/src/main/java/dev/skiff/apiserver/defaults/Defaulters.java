package dev.skiff.apiserver.defaults;

import static dev.skiff.apiserver.defaults.Json.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * Server-side defaulting of built-in kinds, as kube-apiserver applies it on create and update
 * (and on every decode from storage) so that {@code kubectl get -o yaml} shows the same fields a
 * real cluster shows. Ported from kubernetes {@code pkg/apis/<group>/v1/defaults.go} and the
 * {@code zz_generated.defaults.go} files that call them.
 *
 * <p>Every default only fills a field that is unset, so applying twice changes nothing. Unknown
 * kinds are left alone.
 *
 * <p>Some fields a real cluster shows are not defaulting but registry or admission work and are
 * the caller's job: Pod {@code status.phase}/qosClass (pod strategy), serviceAccountName and the
 * token volume (ServiceAccount admission), toleration seconds (DefaultTolerationSeconds
 * admission), Service clusterIP allocation, and the Job selector ({@link #applyJobSelector}).
 */
public final class Defaulters {
  private Defaulters() {}

  /** rbac.authorization.k8s.io, the default API group of RBAC subjects and role refs. */
  static final String RBAC_GROUP = "rbac.authorization.k8s.io";

  public static void apply(String group, String version, String kind, ObjectNode obj) {
    String g = group == null ? "" : group;
    switch (g + "/" + kind) {
      case "/Pod" -> PodSpecDefaults.pod(obj);
      case "/PodTemplate" -> PodSpecDefaults.template(objOrNull(obj, "template"));
      case "/ReplicationController" -> replicationController(obj);
      case "/Service" -> service(obj);
      case "/Endpoints" -> endpoints(obj);
      case "/Namespace" -> namespace(obj);
      case "/Secret" -> defaultString(obj, "type", "Opaque");
      case "/PersistentVolumeClaim" -> persistentVolumeClaim(obj);
      case "/PersistentVolume" -> persistentVolume(obj);
      case "/Node" -> node(obj);
      case "/LimitRange" -> limitRange(obj);
      case "apps/Deployment", "extensions/Deployment" -> deployment(obj);
      case "apps/ReplicaSet", "extensions/ReplicaSet" -> replicaSet(obj);
      case "apps/StatefulSet" -> statefulSet(obj);
      case "apps/DaemonSet", "extensions/DaemonSet" -> daemonSet(obj);
      case "batch/Job" -> job(obj);
      case "batch/CronJob" -> cronJob(obj);
      case "discovery.k8s.io/EndpointSlice" -> endpointSlice(obj);
      case "storage.k8s.io/StorageClass" -> storageClass(obj);
      case "rbac.authorization.k8s.io/RoleBinding",
          "rbac.authorization.k8s.io/ClusterRoleBinding" -> roleBinding(obj);
      default -> {
        // Event, ServiceAccount, ConfigMap, Lease, Role, ... have no defaults upstream.
      }
    }
  }

  // ------------------------------------------------------------------ core/v1

  /** {@code SetDefaults_ReplicationController}: selector and labels from the template. */
  private static void replicationController(ObjectNode rc) {
    ObjectNode spec = obj(rc, "spec");
    ObjectNode template = objOrNull(spec, "template");
    if (template != null) {
      ObjectNode labels = objAt(template, "metadata", "labels");
      if (labels != null && !labels.isEmpty()) {
        if (emptyMap(spec, "selector")) {
          spec.set("selector", labels.deepCopy());
        }
        if (emptyMap(objAt(rc, "metadata"), "labels")) {
          obj(rc, "metadata").set("labels", labels.deepCopy());
        }
      }
    }
    defaultInt(spec, "replicas", 1);
    PodSpecDefaults.template(template);
  }

  private static boolean emptyMap(JsonNode parent, String field) {
    return parent == null || !(parent.get(field) instanceof ObjectNode o) || o.isEmpty();
  }

  /**
   * {@code SetDefaults_Service} and {@code SetDefaults_ServicePort}. The IP family fields are
   * set by the service registry ({@code pkg/registry/core/service/storage}) rather than
   * defaulting; this fills them as a single-stack IPv4 cluster does. clusterIP itself is
   * allocated elsewhere.
   */
  private static void service(ObjectNode svc) {
    ObjectNode spec = obj(svc, "spec");
    defaultString(spec, "sessionAffinity", "None");
    String affinity = spec.path("sessionAffinity").asText();
    if (affinity.equals("None")) {
      spec.remove("sessionAffinityConfig");
    } else if (affinity.equals("ClientIP")) {
      JsonNode timeout = spec.path("sessionAffinityConfig").path("clientIP").path("timeoutSeconds");
      if (timeout.isMissingNode() || timeout.isNull()) {
        spec.putObject("sessionAffinityConfig").putObject("clientIP").put("timeoutSeconds", 10800);
      }
    }
    defaultString(spec, "type", "ClusterIP");
    String type = spec.path("type").asText();
    for (ObjectNode port : items(spec, "ports")) {
      defaultString(port, "protocol", "TCP");
      JsonNode target = port.get("targetPort");
      if (target == null
          || target.isNull()
          || (target.isNumber() && target.asLong() == 0)
          || (target.isTextual() && target.asText().isEmpty())) {
        port.set("targetPort", port.get("port"));
      }
    }
    if ((type.equals("NodePort") || type.equals("LoadBalancer"))) {
      defaultString(spec, "externalTrafficPolicy", "Cluster");
    }
    if (type.equals("ClusterIP") || type.equals("NodePort") || type.equals("LoadBalancer")) {
      defaultStringPtr(spec, "internalTrafficPolicy", "Cluster");
    }
    if (type.equals("LoadBalancer")) {
      defaultBool(spec, "allocateLoadBalancerNodePorts", true);
      // LoadBalancerIPMode (beta, on by default since 1.30): IP ingress points are VIPs.
      for (ObjectNode ing : items(objAt(svc, "status", "loadBalancer"), "ingress")) {
        if (!emptyString(ing, "ip")) {
          defaultStringPtr(ing, "ipMode", "VIP");
        }
      }
    }
    // The registry mirrors clusterIP into clusterIPs.
    if (!emptyString(spec, "clusterIP") && emptyList(spec, "clusterIPs")) {
      spec.putArray("clusterIPs").add(spec.get("clusterIP").asText());
    }
    if (!type.equals("ExternalName")) {
      boolean headlessWithoutSelector =
          "None".equals(spec.path("clusterIP").asText()) && emptyMap(spec, "selector");
      if (emptyList(spec, "ipFamilies")) {
        spec.putArray("ipFamilies").add("IPv4");
      }
      if (unset(spec, "ipFamilyPolicy") && spec.path("ipFamilies").size() <= 1) {
        spec.put("ipFamilyPolicy", headlessWithoutSelector ? "RequireDualStack" : "SingleStack");
      }
    }
  }

  private static boolean emptyList(JsonNode parent, String field) {
    JsonNode n = parent.get(field);
    return n == null || !n.isArray() || n.isEmpty();
  }

  /** {@code SetDefaults_EndpointPort}. */
  private static void endpoints(ObjectNode ep) {
    for (ObjectNode subset : items(ep, "subsets")) {
      for (ObjectNode port : items(subset, "ports")) {
        defaultString(port, "protocol", "TCP");
      }
    }
  }

  /**
   * {@code SetDefaults_Namespace} (the immutable {@code kubernetes.io/metadata.name} label) and
   * {@code SetDefaults_NamespaceStatus}; the {@code kubernetes} finalizer comes from the namespace
   * strategy's PrepareForCreate, which every create goes through.
   */
  private static void namespace(ObjectNode ns) {
    ObjectNode metadata = obj(ns, "metadata");
    String name = metadata.path("name").asText("");
    if (!name.isEmpty()) {
      obj(metadata, "labels").put("kubernetes.io/metadata.name", name);
    }
    ObjectNode spec = obj(ns, "spec");
    if (unset(spec, "finalizers")) {
      spec.putArray("finalizers").add("kubernetes");
    }
    defaultString(obj(ns, "status"), "phase", "Active");
  }

  /** {@code SetDefaults_PersistentVolumeClaim} and {@code SetDefaults_PersistentVolumeClaimSpec}. */
  static void persistentVolumeClaim(ObjectNode pvc) {
    defaultStringPtr(obj(pvc, "spec"), "volumeMode", "Filesystem");
    defaultString(obj(pvc, "status"), "phase", "Pending");
  }

  /** {@code SetDefaults_PersistentVolume}. */
  private static void persistentVolume(ObjectNode pv) {
    ObjectNode spec = obj(pv, "spec");
    defaultString(spec, "persistentVolumeReclaimPolicy", "Retain");
    defaultStringPtr(spec, "volumeMode", "Filesystem");
    ObjectNode hostPath = objOrNull(spec, "hostPath");
    if (hostPath != null) {
      defaultStringPtr(hostPath, "type", "");
    }
    defaultString(obj(pv, "status"), "phase", "Pending");
  }

  /** {@code SetDefaults_NodeStatus}: allocatable defaults to capacity. */
  private static void node(ObjectNode node) {
    ObjectNode status = objOrNull(node, "status");
    if (status != null && objOrNull(status, "capacity") != null && unset(status, "allocatable")) {
      status.set("allocatable", status.get("capacity").deepCopy());
    }
  }

  /** {@code SetDefaults_LimitRangeItem}: for Container items, default ← max, defaultRequest ← default, min. */
  private static void limitRange(ObjectNode lr) {
    for (ObjectNode item : items(objOrNull(lr, "spec"), "limits")) {
      if (!"Container".equals(item.path("type").asText())) {
        continue;
      }
      ObjectNode dflt = item.get("default") instanceof ObjectNode o ? o : item.objectNode();
      ObjectNode dfltRequest =
          item.get("defaultRequest") instanceof ObjectNode o ? o : item.objectNode();
      copyMissing(objOrNull(item, "max"), dflt);
      copyMissing(dflt, dfltRequest);
      copyMissing(objOrNull(item, "min"), dfltRequest);
      // Empty ResourceLists are omitted when serialised.
      if (!dflt.isEmpty()) {
        item.set("default", dflt);
      }
      if (!dfltRequest.isEmpty()) {
        item.set("defaultRequest", dfltRequest);
      }
    }
  }

  private static void copyMissing(ObjectNode from, ObjectNode to) {
    if (from == null) {
      return;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = from.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!to.has(e.getKey())) {
        to.set(e.getKey(), e.getValue().deepCopy());
      }
    }
  }

  // ------------------------------------------------------------------ apps/v1

  /** apps/v1 {@code SetDefaults_Deployment}. */
  private static void deployment(ObjectNode d) {
    ObjectNode spec = obj(d, "spec");
    defaultInt(spec, "replicas", 1);
    ObjectNode strategy = obj(spec, "strategy");
    defaultString(strategy, "type", "RollingUpdate");
    if ("RollingUpdate".equals(strategy.path("type").asText())) {
      ObjectNode ru = obj(strategy, "rollingUpdate");
      if (unset(ru, "maxUnavailable")) {
        ru.put("maxUnavailable", "25%");
      }
      if (unset(ru, "maxSurge")) {
        ru.put("maxSurge", "25%");
      }
    }
    defaultInt(spec, "revisionHistoryLimit", 10);
    defaultInt(spec, "progressDeadlineSeconds", 600);
    PodSpecDefaults.template(obj(spec, "template"));
  }

  /** apps/v1 {@code SetDefaults_ReplicaSet}. */
  private static void replicaSet(ObjectNode rs) {
    ObjectNode spec = obj(rs, "spec");
    defaultInt(spec, "replicas", 1);
    PodSpecDefaults.template(obj(spec, "template"));
  }

  /** apps/v1 {@code SetDefaults_StatefulSet}; claim templates get PVC defaults. */
  private static void statefulSet(ObjectNode sts) {
    ObjectNode spec = obj(sts, "spec");
    defaultString(spec, "podManagementPolicy", "OrderedReady");
    ObjectNode strategy = obj(spec, "updateStrategy");
    defaultString(strategy, "type", "RollingUpdate");
    if ("RollingUpdate".equals(strategy.path("type").asText())) {
      defaultInt(obj(strategy, "rollingUpdate"), "partition", 0);
    }
    // StatefulSetAutoDeletePVC (GA in 1.32).
    ObjectNode retention = obj(spec, "persistentVolumeClaimRetentionPolicy");
    defaultString(retention, "whenDeleted", "Retain");
    defaultString(retention, "whenScaled", "Retain");
    defaultInt(spec, "replicas", 1);
    defaultInt(spec, "revisionHistoryLimit", 10);
    PodSpecDefaults.template(obj(spec, "template"));
    for (ObjectNode claim : items(spec, "volumeClaimTemplates")) {
      persistentVolumeClaim(claim);
    }
  }

  /** apps/v1 {@code SetDefaults_DaemonSet}. */
  private static void daemonSet(ObjectNode ds) {
    ObjectNode spec = obj(ds, "spec");
    ObjectNode strategy = obj(spec, "updateStrategy");
    defaultString(strategy, "type", "RollingUpdate");
    if ("RollingUpdate".equals(strategy.path("type").asText())) {
      ObjectNode ru = obj(strategy, "rollingUpdate");
      if (unset(ru, "maxUnavailable")) {
        ru.put("maxUnavailable", 1);
      }
      if (unset(ru, "maxSurge")) {
        ru.put("maxSurge", 0);
      }
    }
    defaultInt(spec, "revisionHistoryLimit", 10);
    PodSpecDefaults.template(obj(spec, "template"));
  }

  // ------------------------------------------------------------------ batch/v1

  /** batch/v1 {@code SetDefaults_Job}. */
  private static void job(ObjectNode job) {
    ObjectNode spec = obj(job, "spec");
    // A non-parallel job may leave both unset; both then become 1.
    if (unset(spec, "completions") && unset(spec, "parallelism")) {
      spec.put("completions", 1);
      spec.put("parallelism", 1);
    }
    defaultInt(spec, "parallelism", 1);
    if (unset(spec, "backoffLimit")) {
      spec.put("backoffLimit", unset(spec, "backoffLimitPerIndex") ? 6 : Integer.MAX_VALUE);
    }
    ObjectNode templateLabels = objAt(spec, "template", "metadata", "labels");
    if (templateLabels != null && emptyMap(objAt(job, "metadata"), "labels")) {
      obj(job, "metadata").set("labels", templateLabels.deepCopy());
    }
    defaultStringPtr(spec, "completionMode", "NonIndexed");
    defaultBool(spec, "suspend", false);
    ObjectNode failurePolicy = objOrNull(spec, "podFailurePolicy");
    if (failurePolicy != null) {
      for (ObjectNode rule : items(failurePolicy, "rules")) {
        for (ObjectNode pattern : items(rule, "onPodConditions")) {
          defaultString(pattern, "status", "True");
        }
      }
    }
    // JobPodReplacementPolicy (beta, on since 1.29).
    defaultStringPtr(
        spec, "podReplacementPolicy", failurePolicy != null ? "Failed" : "TerminatingOrFailed");
    PodSpecDefaults.template(obj(spec, "template"));
  }

  /**
   * The Job strategy's {@code generateSelector} (pkg/registry/batch/job/strategy.go), run on
   * create unless {@code spec.manualSelector} is true: labels the pod template with the job name
   * and uid (new {@code batch.kubernetes.io/} keys and the legacy unprefixed ones) and selects on
   * {@code batch.kubernetes.io/controller-uid}. Needs the uid assigned at create, so it is not
   * part of {@link #apply}.
   */
  public static void applyJobSelector(ObjectNode job, String uid) {
    ObjectNode spec = obj(job, "spec");
    if (spec.path("manualSelector").asBoolean(false)) {
      return;
    }
    String name = job.path("metadata").path("name").asText("");
    ObjectNode labels = obj(obj(obj(spec, "template"), "metadata"), "labels");
    for (String key : new String[] {"job-name", "batch.kubernetes.io/job-name"}) {
      if (!labels.has(key)) {
        labels.put(key, name);
      }
    }
    for (String key : new String[] {"controller-uid", "batch.kubernetes.io/controller-uid"}) {
      if (!labels.has(key)) {
        labels.put(key, uid);
      }
    }
    ObjectNode matchLabels = obj(obj(spec, "selector"), "matchLabels");
    if (!matchLabels.has("batch.kubernetes.io/controller-uid")) {
      matchLabels.put("batch.kubernetes.io/controller-uid", uid);
    }
  }

  /**
   * batch/v1 {@code SetDefaults_CronJob}. The job template gets pod template defaults only, not
   * Job defaults (the generated code calls no SetDefaults_Job for it).
   */
  private static void cronJob(ObjectNode cj) {
    ObjectNode spec = obj(cj, "spec");
    defaultString(spec, "concurrencyPolicy", "Allow");
    defaultBool(spec, "suspend", false);
    defaultInt(spec, "successfulJobsHistoryLimit", 3);
    defaultInt(spec, "failedJobsHistoryLimit", 1);
    PodSpecDefaults.template(objAt(spec, "jobTemplate", "spec", "template"));
  }

  // ------------------------------------------------------------------ other groups

  /** discovery/v1 {@code SetDefaults_EndpointPort}: name "" and protocol TCP. */
  private static void endpointSlice(ObjectNode slice) {
    for (ObjectNode port : items(slice, "ports")) {
      defaultStringPtr(port, "name", "");
      defaultStringPtr(port, "protocol", "TCP");
    }
  }

  /** storage/v1 {@code SetDefaults_StorageClass}. */
  private static void storageClass(ObjectNode sc) {
    defaultStringPtr(sc, "reclaimPolicy", "Delete");
    defaultStringPtr(sc, "volumeBindingMode", "Immediate");
  }

  /** rbac/v1 {@code SetDefaults_RoleBinding}/{@code SetDefaults_Subject}. */
  private static void roleBinding(ObjectNode rb) {
    ObjectNode roleRef = objOrNull(rb, "roleRef");
    if (roleRef != null) {
      defaultString(roleRef, "apiGroup", RBAC_GROUP);
    }
    for (ObjectNode subject : items(rb, "subjects")) {
      String kind = subject.path("kind").asText("");
      if ((kind.equals("User") || kind.equals("Group"))) {
        defaultString(subject, "apiGroup", RBAC_GROUP);
      }
    }
  }
}
