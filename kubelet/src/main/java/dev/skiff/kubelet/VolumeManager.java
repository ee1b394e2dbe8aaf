package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerConfigException;
import dev.skiff.kubelet.cri.Mount;
import dev.skiff.kubelet.sandbox.AtomicWriter;
import dev.skiff.kubelet.sandbox.Mounts;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.DownwardAPIVolumeFile;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A pod's volumes on the node (pkg/kubelet/volumemanager and the in-tree plugins, reduced):
 * the content lives under {@code <pods>/<uid>/volumes/kubernetes.io~<plugin>/<name>} and each
 * container gets bind mounts of it at its mountPaths ({@link #mounts}), made by the runtime in
 * the container's own mount namespace.
 *
 * <ul>
 *   <li>emptyDir: a directory; medium Memory is a tmpfs (sizeLimit as its size) mounted by the
 *       agent on that directory, so all containers of the pod share it.
 *   <li>configMap, secret, downwardAPI, projected: files written atomically (the {@code ..data}
 *       symlink swap of {@link AtomicWriter}); every sync rewrites them when the objects changed,
 *       and the bind mount of the directory shows the new files (not under subPath, as upstream).
 *       They are always mounted read-only.
 *   <li>projected serviceAccountToken: from the TokenRequest API (serviceaccounts/token, bound
 *       to the pod), refreshed after 80% of its lifetime or 24 h, as the kubelet's token manager.
 *   <li>hostPath: the host's path itself, after the type check of pkg/volume/hostpath.
 * </ul>
 *
 * <p>A volume that cannot be set up leaves the container waiting (reason ContainerCreating,
 * message as upstream's FailedMount event). Called from pod workers: one sync at a time per pod,
 * concurrent across pods; thread-safe.
 */
final class VolumeManager {
  /** upstream's token manager: refresh after 80% of the lifetime, or after 24 h. */
  private static final double TOKEN_REFRESH = 0.8;
  private static final Duration TOKEN_MAX_AGE = Duration.ofHours(24);

  private final KubernetesClient client;
  private final Path pods;
  private final ContainerEnv env;
  private final boolean canMount;
  private final Clock clock;
  private final Map<String, Token> tokens = new ConcurrentHashMap<>();

  private record Token(byte[] value, Instant issued, Instant expires) {}

  /**
   * @param pods the runtime's pods directory
   * @param canMount whether the agent may mount tmpfs on the host (root)
   */
  VolumeManager(KubernetesClient client, Path pods, ContainerEnv env, boolean canMount, Clock clock) {
    this.client = client;
    this.pods = pods;
    this.env = env;
    this.canMount = canMount;
    this.clock = clock;
  }

  /** Whether any container of the pod mounts a volume. */
  static boolean hasMounts(Container c) {
    return c.getVolumeMounts() != null && !c.getVolumeMounts().isEmpty();
  }

  /**
   * Sets up (or refreshes) the pod's volumes that {@code c} mounts and returns its mounts.
   *
   * @param containerEnv the container's environment, for subPathExpr
   */
  List<Mount> mounts(Pod pod, Container c, Map<String, String> containerEnv) throws IOException {
    if (!hasMounts(c)) {
      return List.of();
    }
    Map<String, Volume> volumes = new HashMap<>();
    if (pod.getSpec().getVolumes() != null) {
      pod.getSpec().getVolumes().forEach(v -> volumes.put(v.getName(), v));
    }
    Map<String, Path> ready = new HashMap<>();
    List<Mount> out = new ArrayList<>();
    for (VolumeMount vm : c.getVolumeMounts()) {
      Volume v = volumes.get(vm.getName());
      if (v == null) {
        throw new ContainerConfigException("CreateContainerConfigError", "cannot find volume \"" + vm.getName()
            + "\" to mount into container \"" + c.getName() + "\"");
      }
      Path dir = ready.get(v.getName());
      if (dir == null) {
        try {
          dir = setUp(pod, v);
        } catch (ContainerConfigException e) {
          throw e;
        } catch (IOException | KubernetesClientException e) {
          throw mountFailed(v, e.getMessage());
        }
        ready.put(v.getName(), dir);
      }
      boolean readOnly = Boolean.TRUE.equals(vm.getReadOnly()) || v.getConfigMap() != null || v.getSecret() != null
          || v.getDownwardAPI() != null || v.getProjected() != null;
      String sub = vm.getSubPath();
      if (vm.getSubPathExpr() != null && !vm.getSubPathExpr().isEmpty()) {
        sub = ContainerEnv.expand(vm.getSubPathExpr(), containerEnv);
      }
      Path host = dir;
      if (sub != null && !sub.isEmpty()) {
        Path rel = Path.of(sub).normalize();
        if (rel.isAbsolute() || rel.startsWith("..")) {
          throw new ContainerConfigException("CreateContainerConfigError", "failed to prepare subPath for volumeMount \""
              + vm.getName() + "\" of container \"" + c.getName() + "\": subPath " + sub + " must be relative and may not contain '..'");
        }
        host = dir.resolve(rel);
        if (!Files.exists(host)) {
          Files.createDirectories(host); // upstream creates a missing subPath as a directory
        }
        host = host.toRealPath(); // through ..data symlinks: a subPath mount is a snapshot
        if (!host.startsWith(dir.toRealPath())) {
          throw new ContainerConfigException("CreateContainerConfigError", "subPath " + sub + " leaves volume " + vm.getName());
        }
      }
      out.add(new Mount(vm.getMountPath(), host.toString(), readOnly));
    }
    return out;
  }

  /**
   * Rewrites the pod's configMap, secret, downwardAPI and projected volumes that were set up
   * already (a container mounts them) from their current sources; other volumes are left alone.
   */
  void refresh(Pod pod) throws IOException {
    for (Volume v : pod.getSpec().getVolumes()) {
      String plugin = v.getConfigMap() != null ? "configmap" : v.getSecret() != null ? "secret"
          : v.getDownwardAPI() != null ? "downward-api" : v.getProjected() != null ? "projected" : null;
      if (plugin != null && Files.isSymbolicLink(volumeDir(pod, plugin, v.getName()).resolve("..data"))) {
        setUp(pod, v);
      }
    }
  }

  private static ContainerConfigException mountFailed(Volume v, String why) {
    return new ContainerConfigException("ContainerCreating", "MountVolume.SetUp failed for volume \"" + v.getName()
        + "\" : " + why);
  }

  private Path volumeDir(Pod pod, String plugin, String name) {
    return pods.resolve(pod.getMetadata().getUid()).resolve("volumes").resolve("kubernetes.io~" + plugin).resolve(name);
  }

  /** Sets up one volume; returns the host path to bind. */
  private Path setUp(Pod pod, Volume v) throws IOException {
    String ns = pod.getMetadata().getNamespace();
    if (v.getEmptyDir() != null) {
      Path dir = volumeDir(pod, "empty-dir", v.getName());
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
      }
      if ("Memory".equals(v.getEmptyDir().getMedium()) && canMount && !Mounts.isMountPoint(dir)) {
        Quantity size = v.getEmptyDir().getSizeLimit();
        Mounts.mountTmpfs(dir, size == null ? 0 : Quantity.getAmountInBytes(size).longValue());
      }
      return dir;
    }
    if (v.getHostPath() != null) {
      return hostPath(v);
    }
    if (v.getConfigMap() != null) {
      var src = v.getConfigMap();
      Map<String, AtomicWriter.File> files = new TreeMap<>();
      if (!configMapFiles(ns, src.getName(), src.getItems(), mode(src.getDefaultMode()), Boolean.TRUE.equals(src.getOptional()), files)) {
        throw mountFailed(v, "configmap \"" + src.getName() + "\" not found");
      }
      return write(volumeDir(pod, "configmap", v.getName()), files);
    }
    if (v.getSecret() != null) {
      var src = v.getSecret();
      Map<String, AtomicWriter.File> files = new TreeMap<>();
      if (!secretFiles(ns, src.getSecretName(), src.getItems(), mode(src.getDefaultMode()), Boolean.TRUE.equals(src.getOptional()), files)) {
        throw mountFailed(v, "secret \"" + src.getSecretName() + "\" not found");
      }
      return writeInMemory(volumeDir(pod, "secret", v.getName()), files);
    }
    if (v.getDownwardAPI() != null) {
      Map<String, AtomicWriter.File> files = new TreeMap<>();
      downward(pod, v.getDownwardAPI().getItems(), mode(v.getDownwardAPI().getDefaultMode()), files);
      return write(volumeDir(pod, "downward-api", v.getName()), files);
    }
    if (v.getProjected() != null) {
      int defaultMode = mode(v.getProjected().getDefaultMode());
      Map<String, AtomicWriter.File> files = new TreeMap<>();
      for (VolumeProjection p : v.getProjected().getSources()) {
        if (p.getConfigMap() != null) {
          var src = p.getConfigMap();
          if (!configMapFiles(ns, src.getName(), src.getItems(), defaultMode, Boolean.TRUE.equals(src.getOptional()), files)) {
            throw mountFailed(v, "configmap \"" + src.getName() + "\" not found");
          }
        } else if (p.getSecret() != null) {
          var src = p.getSecret();
          if (!secretFiles(ns, src.getName(), src.getItems(), defaultMode, Boolean.TRUE.equals(src.getOptional()), files)) {
            throw mountFailed(v, "secret \"" + src.getName() + "\" not found");
          }
        } else if (p.getDownwardAPI() != null) {
          downward(pod, p.getDownwardAPI().getItems(), defaultMode, files);
        } else if (p.getServiceAccountToken() != null) {
          var t = p.getServiceAccountToken();
          files.put(t.getPath(), new AtomicWriter.File(token(pod, v.getName(), t.getAudience(), t.getExpirationSeconds()),
              defaultMode));
        } else if (p.getClusterTrustBundle() != null) {
          throw mountFailed(v, "clusterTrustBundle projections are not supported");
        }
      }
      return writeInMemory(volumeDir(pod, "projected", v.getName()), files);
    }
    throw new ContainerConfigException("CreateContainerConfigError", "volume \"" + v.getName()
        + "\": this node supports emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes only");
  }

  /**
   * Secrets and tokens never touch the disk (as upstream, whose secret and projected volumes sit
   * on a memory-backed emptyDir): as root the directory is a tmpfs, mounted once.
   */
  private Path writeInMemory(Path dir, Map<String, AtomicWriter.File> files) throws IOException {
    if (canMount && !Files.isSymbolicLink(dir.resolve("..data"))) {
      Files.createDirectories(dir);
      if (!Mounts.isMountPoint(dir)) {
        Mounts.mountTmpfs(dir, 0, "0755");
      }
    }
    return write(dir, files);
  }

  private static Path write(Path dir, Map<String, AtomicWriter.File> files) throws IOException {
    AtomicWriter.write(dir, files);
    return dir;
  }

  /** upstream default 0644 (the API server defaults it too). */
  private static int mode(Integer m) {
    return m == null ? 0644 : m;
  }

  private boolean configMapFiles(String ns, String name, List<KeyToPath> items, int defaultMode, boolean optional,
      Map<String, AtomicWriter.File> out) throws ContainerConfigException {
    ConfigMap cm = client.configMaps().inNamespace(ns).withName(name).get();
    if (cm == null) {
      return optional;
    }
    Map<String, byte[]> data = new LinkedHashMap<>();
    if (cm.getData() != null) {
      cm.getData().forEach((k, v) -> data.put(k, v.getBytes(StandardCharsets.UTF_8)));
    }
    if (cm.getBinaryData() != null) {
      cm.getBinaryData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
    }
    project("configmap", name, data, items, defaultMode, optional, out);
    return true;
  }

  private boolean secretFiles(String ns, String name, List<KeyToPath> items, int defaultMode, boolean optional,
      Map<String, AtomicWriter.File> out) throws ContainerConfigException {
    Secret s = client.secrets().inNamespace(ns).withName(name).get();
    if (s == null) {
      return optional;
    }
    Map<String, byte[]> data = new LinkedHashMap<>();
    if (s.getData() != null) {
      s.getData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
    }
    if (s.getStringData() != null) {
      s.getStringData().forEach((k, v) -> data.put(k, v.getBytes(StandardCharsets.UTF_8)));
    }
    project("secret", name, data, items, defaultMode, optional, out);
    return true;
  }

  /** keys -> paths (pkg/volume/configmap MakePayload): all keys, or only the items, each with its mode. */
  private static void project(String kind, String name, Map<String, byte[]> data, List<KeyToPath> items, int defaultMode,
      boolean optional, Map<String, AtomicWriter.File> out) throws ContainerConfigException {
    if (items == null || items.isEmpty()) {
      data.forEach((k, v) -> out.put(k, new AtomicWriter.File(v, defaultMode)));
      return;
    }
    for (KeyToPath item : items) {
      byte[] v = data.get(item.getKey());
      if (v == null) {
        if (optional) {
          continue;
        }
        throw new ContainerConfigException("ContainerCreating", "MountVolume.SetUp failed: " + kind
            + " references non-existent " + ("secret".equals(kind) ? "secret" : "config") + " key: " + item.getKey()
            + " (" + kind + " " + name + ")");
      }
      out.put(item.getPath(), new AtomicWriter.File(v, item.getMode() != null ? item.getMode() : defaultMode));
    }
  }

  /** downwardAPI items (pkg/volume/downwardapi CollectData, pkg/fieldpath). */
  private void downward(Pod pod, List<DownwardAPIVolumeFile> items, int defaultMode, Map<String, AtomicWriter.File> out)
      throws ContainerConfigException {
    if (items == null) {
      return;
    }
    for (DownwardAPIVolumeFile item : items) {
      String value;
      if (item.getFieldRef() != null) {
        value = field(pod, item.getFieldRef().getFieldPath());
      } else if (item.getResourceFieldRef() != null) {
        var ref = item.getResourceFieldRef();
        Container c = pod.getSpec().getContainers().stream().filter(x -> x.getName().equals(ref.getContainerName()))
            .findFirst().orElseThrow(() -> new ContainerConfigException("ContainerCreating",
                "downwardAPI: no container \"" + ref.getContainerName() + "\" for resourceFieldRef " + ref.getResource()));
        value = env.resource(c, ref.getResource(), ref.getDivisor());
      } else {
        continue;
      }
      out.put(item.getPath(), new AtomicWriter.File(value.getBytes(StandardCharsets.UTF_8),
          item.getMode() != null ? item.getMode() : defaultMode));
    }
  }

  private static String field(Pod pod, String path) throws ContainerConfigException {
    var m = pod.getMetadata();
    switch (path) {
      case "metadata.name": return m.getName();
      case "metadata.namespace": return m.getNamespace();
      case "metadata.uid": return m.getUid();
      case "metadata.labels": return formatMap(m.getLabels());
      case "metadata.annotations": return formatMap(m.getAnnotations());
      default:
        break;
    }
    var sel = java.util.regex.Pattern.compile("metadata\\.(labels|annotations)\\['(.*)'\\]").matcher(path);
    if (sel.matches()) {
      Map<String, String> map = sel.group(1).equals("labels") ? m.getLabels() : m.getAnnotations();
      return map == null ? "" : map.getOrDefault(sel.group(2), "");
    }
    throw new ContainerConfigException("ContainerCreating", "downwardAPI: unsupported fieldPath " + path);
  }

  /** pkg/fieldpath FormatMap: sorted {@code key="value"} lines (Go %q quoting), no trailing newline. */
  static String formatMap(Map<String, String> m) {
    if (m == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    for (var e : new TreeMap<>(m).entrySet()) {
      if (!sb.isEmpty()) {
        sb.append('\n');
      }
      sb.append(e.getKey()).append('=').append(goQuote(e.getValue()));
    }
    return sb.toString();
  }

  private static String goQuote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      switch (ch) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        default -> {
          if (ch < 0x20) {
            sb.append(String.format("\\x%02x", (int) ch));
          } else {
            sb.append(ch);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  /** A bound service account token (kubelet token manager), cached per pod and volume. */
  private byte[] token(Pod pod, String volume, String audience, Long expirationSeconds) {
    String key = pod.getMetadata().getUid() + "/" + volume + "/" + audience + "/" + expirationSeconds;
    Instant now = clock.instant();
    Token t = tokens.get(key);
    if (t != null) {
      Duration ttl = Duration.between(t.issued(), t.expires());
      Instant refreshAt = t.issued().plusMillis((long) (ttl.toMillis() * TOKEN_REFRESH));
      if (now.isBefore(refreshAt) && now.isBefore(t.issued().plus(TOKEN_MAX_AGE))) {
        return t.value();
      }
    }
    String sa = pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
    var spec = new TokenRequestBuilder().withNewSpec()
        .withExpirationSeconds(expirationSeconds == null ? 3600L : expirationSeconds)
        .withNewBoundObjectRef().withApiVersion("v1").withKind("Pod").withName(pod.getMetadata().getName())
        .withUid(pod.getMetadata().getUid()).endBoundObjectRef();
    if (audience != null && !audience.isEmpty()) {
      spec.withAudiences(audience);
    }
    TokenRequest req = spec.endSpec().build();
    TokenRequest resp = client.serviceAccounts().inNamespace(pod.getMetadata().getNamespace()).withName(sa).tokenRequest(req);
    Instant exp = resp.getStatus().getExpirationTimestamp() == null ? now.plusSeconds(3600)
        : Instant.parse(resp.getStatus().getExpirationTimestamp());
    byte[] value = resp.getStatus().getToken().getBytes(StandardCharsets.UTF_8);
    tokens.put(key, new Token(value, now, exp));
    return value;
  }

  /** hostPath with its type check (pkg/volume/hostpath/host_path.go checkType). */
  private static Path hostPath(Volume v) throws IOException {
    Path p = Path.of(v.getHostPath().getPath());
    String type = v.getHostPath().getType() == null ? "" : v.getHostPath().getType();
    switch (type) {
      case "", "Unset" -> {
        if (!Files.exists(p)) {
          Files.createDirectories(p); // as containerd's CRI does for a missing bind source
        }
      }
      case "DirectoryOrCreate" -> {
        if (!Files.exists(p)) {
          Files.createDirectories(p);
          Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        } else if (!Files.isDirectory(p)) {
          throw mountFailed(v, "hostPath type check failed: " + p + " is not a directory");
        }
      }
      case "Directory" -> {
        if (!Files.isDirectory(p)) {
          throw mountFailed(v, "hostPath type check failed: " + p + " is not a directory");
        }
      }
      case "FileOrCreate" -> {
        if (!Files.exists(p)) {
          if (!Files.isDirectory(p.getParent())) {
            throw mountFailed(v, "hostPath type check failed: parent directory of " + p + " does not exist");
          }
          Files.createFile(p);
          Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        } else if (!Files.isRegularFile(p)) {
          throw mountFailed(v, "hostPath type check failed: " + p + " is not a file");
        }
      }
      case "File" -> {
        if (!Files.isRegularFile(p)) {
          throw mountFailed(v, "hostPath type check failed: " + p + " is not a file");
        }
      }
      case "Socket", "CharDevice", "BlockDevice" -> {
        int fmt = Files.exists(p) ? ((Integer) Files.getAttribute(p, "unix:mode")) & 0170000 : -1;
        int want = type.equals("Socket") ? 0140000 : type.equals("CharDevice") ? 0020000 : 0060000;
        if (fmt != want) {
          throw mountFailed(v, "hostPath type check failed: " + p + " is not a "
              + (type.equals("Socket") ? "socket file" : type.equals("CharDevice") ? "character device" : "block device"));
        }
      }
      default -> throw mountFailed(v, "hostPath type " + type + " is not supported");
    }
    if (!Files.exists(p)) {
      throw mountFailed(v, "hostPath " + p + " does not exist");
    }
    return p;
  }

  /** Forgets a removed pod's cached tokens (its directories go with the sandbox). */
  void forget(String uid) {
    tokens.keySet().removeIf(k -> k.startsWith(uid + "/"));
  }
}
