package dev.skiff.apiserver.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import java.util.HashMap;
import java.util.Map;

/**
 * The protobuf message descriptors of the built-in kinds (k8s.io/api generated.proto, as compiled
 * into client-java-proto), found by apiVersion and kind. Loaded on first use: building the
 * descriptors of every API group takes a noticeable fraction of a second, and only protobuf
 * clients (kubectl 1.32+) need them.
 */
final class ProtoTypes {
  /** The generated outer classes; each carries one generated.proto file's descriptor. */
  private static final String[] OUTER_CLASSES = {
      "IntStr", "Meta", "Resource", "Runtime", "RuntimeSchema", "V1", "V1Admission", "V1Admissionregistration",
      "V1Apiextensions", "V1Apps", "V1Authentication", "V1Authorization", "V1Autoscaling", "V1Batch", "V1Certificates",
      "V1Coordination", "V1Discovery", "V1Events", "V1Flowcontrol", "V1Networking", "V1Node", "V1Policy", "V1Rbac",
      "V1Resource", "V1Scheduling", "V1Storage", "V1alpha1Apiserverinternal", "V1alpha1Rbac", "V1alpha1Scheduling",
      "V1beta1Admissionregistration", "V1beta1Apiextensions", "V1beta1Apps", "V1beta1Authentication",
      "V1beta1Authorization", "V1beta1Batch", "V1beta1Certificates", "V1beta1Extensions", "V1beta1Policy",
      "V1beta1Rbac", "V1beta1Storage", "V1beta1Storagemigration", "V1beta2Apps", "V2Autoscaling",
      "V2beta1Autoscaling", "V2beta2Autoscaling"};

  private ProtoTypes() {
  }

  private static final class Index {
    static final Map<String, Descriptor> BY_NAME = load();

    private static Map<String, Descriptor> load() {
      Map<String, Descriptor> m = new HashMap<>();
      for (String outer : OUTER_CLASSES) {
        try {
          Class<?> c = Class.forName("io.kubernetes.client.proto." + outer);
          FileDescriptor fd = (FileDescriptor) c.getMethod("getDescriptor").invoke(null);
          for (Descriptor d : fd.getMessageTypes()) {
            m.put(d.getFullName(), d);
          }
        } catch (ReflectiveOperationException | LinkageError e) {
          // A group missing from this client-java-proto release: its kinds just do not decode.
        }
      }
      return m;
    }
  }

  /** The message of a kind, e.g. ("apps/v1", "Deployment"), or null when unknown. */
  static Descriptor find(String apiVersion, String kind) {
    if (apiVersion == null || kind == null || kind.isEmpty()) {
      return null;
    }
    int slash = apiVersion.indexOf('/');
    String group = slash < 0 ? "" : apiVersion.substring(0, slash);
    String version = slash < 0 ? apiVersion : apiVersion.substring(slash + 1);
    Descriptor d = Index.BY_NAME.get(protoPackage(group, version) + "." + kind);
    if (d == null && version.equals("v1")) {
      // Options and Status are registered in every group version (metav1.AddToGroupVersion):
      // a typed client's DELETE body says {"v1", "DeleteOptions"} or {"apps/v1", "DeleteOptions"}.
      d = Index.BY_NAME.get(protoPackage("meta.k8s.io", version) + "." + kind);
    }
    return d;
  }

  /** The proto package of an API group version: go-to-protobuf names it after the Go package path. */
  static String protoPackage(String group, String version) {
    return switch (group) {
      case "" -> "k8s.io.api.core." + version;
      case "meta.k8s.io" -> "k8s.io.apimachinery.pkg.apis.meta." + version;
      case "apiextensions.k8s.io" -> "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions." + version;
      case "internal.apiserver.k8s.io" -> "k8s.io.api.apiserverinternal." + version;
      default -> {
        int dot = group.indexOf('.');
        yield "k8s.io.api." + (dot < 0 ? group : group.substring(0, dot)) + "." + version;
      }
    };
  }

  /** Every top-level message of every loaded file. */
  static java.util.Collection<Descriptor> all() {
    return Index.BY_NAME.values();
  }

  /** Forces the descriptors to load now (start-up warm-up, tests). */
  static int load() {
    return Index.BY_NAME.size();
  }
}
