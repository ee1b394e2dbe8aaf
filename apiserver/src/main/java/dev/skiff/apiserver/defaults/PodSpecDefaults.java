package dev.skiff.apiserver.defaults;

import static dev.skiff.apiserver.defaults.Json.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * Defaults for PodSpec and everything under it, from kubernetes {@code pkg/apis/core/v1/defaults.go}
 * ({@code SetDefaults_PodSpec}, {@code SetDefaults_Container}, {@code SetDefaults_Probe},
 * {@code SetDefaults_*VolumeSource} ...) in the order {@code zz_generated.defaults.go} applies them.
 *
 * <p>Some defaults exist only on Pods, never in PodTemplateSpecs ({@code SetDefaults_Pod}:
 * requests from limits, enableServiceLinks, hostNetwork hostPorts) because materialising them in
 * templates would change every controller's template hash on upgrade (kubernetes#69445).
 */
final class PodSpecDefaults {
  private PodSpecDefaults() {}

  /** {@code v1.DefaultSchedulerName}. */
  static final String DEFAULT_SCHEDULER = "default-scheduler";

  /** 0644: configMap, secret, downwardAPI and projected volume file mode. */
  static final int DEFAULT_MODE = 0644;

  /** Defaults of a bare Pod: template defaults plus the Pod-only ones. */
  static void pod(ObjectNode pod) {
    ObjectNode spec = obj(pod, "spec");
    podOnly(spec);
    podSpec(spec);
  }

  /** {@code SetDefaults_Pod}. */
  private static void podOnly(ObjectNode spec) {
    for (String list : new String[] {"containers", "initContainers"}) {
      for (ObjectNode c : items(spec, list)) {
        requestsFromLimits(c);
      }
    }
    defaultBool(spec, "enableServiceLinks", true);
    if (spec.path("hostNetwork").asBoolean(false)) {
      for (String list : new String[] {"containers", "initContainers"}) {
        for (ObjectNode c : items(spec, list)) {
          // With host networking the container port is the host port.
          for (ObjectNode port : items(c, "ports")) {
            if (unset(port, "hostPort") || port.path("hostPort").asLong() == 0) {
              port.set("hostPort", port.get("containerPort"));
            }
          }
        }
      }
    }
    // Not defaulting upstream but the Priority admission plugin, which every real cluster
    // runs: without a priorityClassName (and no global default class) priority is 0.
    if (emptyString(spec, "priorityClassName")) {
      defaultInt(spec, "priority", 0);
      defaultString(spec, "preemptionPolicy", "PreemptLowerPriority");
    }
  }

  /** If limits are specified but requests are not, requests default to limits (per resource). */
  private static void requestsFromLimits(ObjectNode container) {
    ObjectNode resources = objOrNull(container, "resources");
    ObjectNode limits = resources == null ? null : objOrNull(resources, "limits");
    if (limits == null || limits.isEmpty()) {
      return;
    }
    ObjectNode requests = obj(resources, "requests");
    for (Iterator<Map.Entry<String, JsonNode>> it = limits.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!requests.has(e.getKey())) {
        requests.set(e.getKey(), e.getValue().deepCopy());
      }
    }
  }

  /** {@code SetObjectDefaults_PodTemplate...}: template metadata has no defaults, only the spec. */
  static void template(ObjectNode template) {
    if (template != null) {
      podSpec(obj(template, "spec"));
    }
  }

  /** {@code SetDefaults_PodSpec} followed by the generated per-field defaults. */
  static void podSpec(ObjectNode spec) {
    defaultString(spec, "dnsPolicy", "ClusterFirst");
    defaultString(spec, "restartPolicy", "Always");
    if (unset(spec, "securityContext")) {
      spec.putObject("securityContext");
    }
    defaultInt(spec, "terminationGracePeriodSeconds", 30);
    defaultString(spec, "schedulerName", DEFAULT_SCHEDULER);

    for (ObjectNode v : items(spec, "volumes")) {
      volume(v);
    }
    for (String list : new String[] {"initContainers", "containers", "ephemeralContainers"}) {
      for (ObjectNode c : items(spec, list)) {
        container(c);
      }
    }
  }

  private static final String[] VOLUME_SOURCES = {
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image"
  };

  /** {@code SetDefaults_Volume} and the per-source defaults. */
  static void volume(ObjectNode v) {
    boolean anySource = false;
    for (String s : VOLUME_SOURCES) {
      anySource |= !unset(v, s);
    }
    if (!anySource) {
      v.putObject("emptyDir");
    }
    ObjectNode hostPath = objOrNull(v, "hostPath");
    if (hostPath != null) {
      defaultStringPtr(hostPath, "type", ""); // HostPathUnset
    }
    for (String s : new String[] {"secret", "configMap", "downwardAPI", "projected"}) {
      ObjectNode src = objOrNull(v, s);
      if (src != null) {
        defaultInt(src, "defaultMode", DEFAULT_MODE);
      }
    }
    ObjectNode downward = objOrNull(v, "downwardAPI");
    if (downward != null) {
      for (ObjectNode item : items(downward, "items")) {
        fieldRef(item);
      }
    }
    ObjectNode projected = objOrNull(v, "projected");
    if (projected != null) {
      for (ObjectNode source : items(projected, "sources")) {
        ObjectNode d = objOrNull(source, "downwardAPI");
        if (d != null) {
          for (ObjectNode item : items(d, "items")) {
            fieldRef(item);
          }
        }
        ObjectNode token = objOrNull(source, "serviceAccountToken");
        if (token != null) {
          defaultInt(token, "expirationSeconds", 3600);
        }
      }
    }
    ObjectNode iscsi = objOrNull(v, "iscsi");
    if (iscsi != null) {
      defaultString(iscsi, "iscsiInterface", "default");
    }
    ObjectNode rbd = objOrNull(v, "rbd");
    if (rbd != null) {
      defaultString(rbd, "pool", "rbd");
      defaultString(rbd, "user", "admin");
      defaultString(rbd, "keyring", "/etc/ceph/keyring");
    }
    ObjectNode azureDisk = objOrNull(v, "azureDisk");
    if (azureDisk != null) {
      defaultStringPtr(azureDisk, "cachingMode", "ReadWrite");
      defaultStringPtr(azureDisk, "fsType", "ext4");
      defaultBool(azureDisk, "readOnly", false);
      defaultStringPtr(azureDisk, "kind", "Shared");
    }
    ObjectNode ephemeral = objAt(v, "ephemeral", "volumeClaimTemplate", "spec");
    if (ephemeral != null) {
      defaultStringPtr(ephemeral, "volumeMode", "Filesystem");
    }
  }

  /** {@code SetDefaults_Container} plus ports, env, probes and lifecycle handlers. */
  static void container(ObjectNode c) {
    if (emptyString(c, "imagePullPolicy")) {
      c.put("imagePullPolicy", "latest".equals(imageTag(c.path("image").asText(""))) ? "Always" : "IfNotPresent");
    }
    defaultString(c, "terminationMessagePath", "/dev/termination-log");
    defaultString(c, "terminationMessagePolicy", "File");
    for (ObjectNode port : items(c, "ports")) {
      defaultString(port, "protocol", "TCP");
    }
    for (ObjectNode env : items(c, "env")) {
      ObjectNode valueFrom = objOrNull(env, "valueFrom");
      if (valueFrom != null) {
        fieldRef(valueFrom);
      }
    }
    for (String p : new String[] {"livenessProbe", "readinessProbe", "startupProbe"}) {
      ObjectNode probe = objOrNull(c, p);
      if (probe != null) {
        defaultInt(probe, "timeoutSeconds", 1);
        defaultInt(probe, "periodSeconds", 10);
        defaultInt(probe, "successThreshold", 1);
        defaultInt(probe, "failureThreshold", 3);
        handler(probe);
        ObjectNode grpc = objOrNull(probe, "grpc");
        if (grpc != null) {
          defaultStringPtr(grpc, "service", "");
        }
      }
    }
    ObjectNode lifecycle = objOrNull(c, "lifecycle");
    if (lifecycle != null) {
      for (String h : new String[] {"postStart", "preStop"}) {
        ObjectNode handler = objOrNull(lifecycle, h);
        if (handler != null) {
          handler(handler);
        }
      }
    }
  }

  /** {@code SetDefaults_HTTPGetAction}. */
  private static void handler(ObjectNode handler) {
    ObjectNode httpGet = objOrNull(handler, "httpGet");
    if (httpGet != null) {
      defaultString(httpGet, "path", "/");
      defaultString(httpGet, "scheme", "HTTP");
    }
  }

  /** {@code SetDefaults_ObjectFieldSelector}: fieldRef.apiVersion is v1. */
  private static void fieldRef(ObjectNode holder) {
    ObjectNode fieldRef = objOrNull(holder, "fieldRef");
    if (fieldRef != null) {
      defaultString(fieldRef, "apiVersion", "v1");
    }
  }

  /**
   * The tag {@code parsers.ParseImageName} reports: "latest" when the reference has neither tag
   * nor digest, "" when it has only a digest.
   */
  static String imageTag(String image) {
    String ref = image;
    boolean digest = false;
    int at = ref.indexOf('@');
    if (at >= 0) {
      digest = true;
      ref = ref.substring(0, at);
    }
    int colon = ref.lastIndexOf(':');
    int slash = ref.lastIndexOf('/');
    if (colon > slash) {
      return ref.substring(colon + 1);
    }
    return digest ? "" : "latest";
  }
}
