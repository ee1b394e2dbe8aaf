package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.kubelet.sandbox.NamespaceLauncher;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Volumes, /etc/resolv.conf and /etc/hosts inside each container's own mount namespace (as
 * root): every volume type at its mountPath with its content and mode, shared between the
 * containers of a pod, read-only where asked, subPath; mount paths that do not exist on the host
 * appear in the container and never on the host.
 */
class ContainerMountsTest {
  static AgentFixture f;
  static Path hostDir;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(NamespaceLauncher.detect() == NamespaceLauncher.Mode.ROOT, "mount namespaces as root");
    f = new AgentFixture();
    hostDir = Files.createTempDirectory("skiff-hostpath");
    Files.writeString(hostDir.resolve("h.txt"), "from-host");
  }

  @AfterAll
  static void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static String logs(String pod, String c) {
    try {
      return f.server.kubectl().run("logs", pod, "-c", c).out();
    } catch (Exception e) {
      return "";
    }
  }

  static String awaitLog(String pod, String c, String marker) throws InterruptedException {
    String[] last = {""};
    boolean ok = AgentFixture.until(Duration.ofSeconds(30), () -> (last[0] = logs(pod, c)).contains(marker));
    assertThat(ok).as("log of %s/%s: %s; status %s", pod, c, last[0], f.get(pod) == null ? null : f.get(pod).getStatus()).isTrue();
    return last[0];
  }

  @Test
  void everyVolumeTypeIsMountedAtItsPathInsideTheContainerOnly() throws Exception {
    for (String p : new String[] {"/data", "/etc/skiff-cfg", "/etc/b.conf", "/var/run/secrets/kubernetes.io", "/opt/skiff-secret",
        "/info", "/mem", "/hostdata"}) {
      assumeTrue(!Files.exists(Path.of(p)), p + " must not exist on this host");
    }
    f.apply("""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cfg}
        data: {a: alpha, b: beta}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: kube-root-ca.crt}
        data: {ca.crt: THE-CA}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: sec}
        stringData: {pw: s3cret}
        """);
    String script1 = String.join("; ",
        "echo c1 > /data/scratch/from-c1",
        "echo cfg=$(cat /etc/skiff-cfg/sub/a.txt) mode=$(stat -L -c %a /etc/skiff-cfg/sub/a.txt) ro=$(touch /etc/skiff-cfg/x 2>/dev/null && echo no || echo yes)",
        "echo sec=$(cat /opt/skiff-secret/pw) mode=$(stat -L -c %a /opt/skiff-secret/pw) fs=$(stat -f -c %T /opt/skiff-secret)",
        "S=/var/run/secrets/kubernetes.io/serviceaccount; echo ns=$(cat $S/namespace) ca=$(cat $S/ca.crt) tok=$(cut -c1-3 $S/token)",
        "echo name=$(cat /info/name) labels=$(cat /info/labels) mem=$(cat /info/mem)",
        "echo host=$(cat /hostdata/h.txt); echo in-pod > /hostdata/from-pod",
        "echo b=$(cat /etc/b.conf)",
        "echo memfs=$(stat -f -c %T /mem)",
        "echo passwd=$(grep -c ^root: /etc/passwd)",
        "echo done; exec sleep 3600");
    String script2 = "until [ -f /data/scratch/from-c1 ]; do sleep 0.05; done; echo c2-sees=$(cat /data/scratch/from-c1);"
        + " touch /data/scratch/x 2>/dev/null && echo c2-rw || echo c2-ro; echo done; exec sleep 3600";
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: vols
          labels: {app: vols, tier: x}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 1
          containers:
          - name: c1
            image: busybox
            command: [sh, -c, %s]
            resources: {limits: {memory: 64Mi}}
            volumeMounts:
            - {name: scratch, mountPath: /data/scratch}
            - {name: mem, mountPath: /mem}
            - {name: cfg, mountPath: /etc/skiff-cfg}
            - {name: cfg-b, mountPath: /etc/b.conf, subPath: b}
            - {name: sec, mountPath: /opt/skiff-secret}
            - {name: kube-api-access, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
            - {name: info, mountPath: /info}
            - {name: host, mountPath: /hostdata}
          - name: c2
            image: busybox
            command: [sh, -c, %s]
            volumeMounts:
            - {name: scratch, mountPath: /data/scratch, readOnly: true}
          volumes:
          - {name: scratch, emptyDir: {}}
          - {name: mem, emptyDir: {medium: Memory, sizeLimit: 1Mi}}
          - name: cfg
            configMap:
              name: cfg
              items: [{key: a, path: sub/a.txt, mode: 0600}]
          - {name: cfg-b, configMap: {name: cfg}}
          - {name: sec, secret: {secretName: sec, defaultMode: 0400}}
          - name: kube-api-access
            projected:
              defaultMode: 420
              sources:
              - serviceAccountToken: {expirationSeconds: 3607, path: token}
              - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
              - downwardAPI: {items: [{path: namespace, fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}]}
          - name: info
            downwardAPI:
              items:
              - {path: name, fieldRef: {fieldPath: metadata.name}}
              - {path: labels, fieldRef: {fieldPath: metadata.labels}}
              - {path: mem, resourceFieldRef: {containerName: c1, resource: limits.memory, divisor: 1Mi}}
          - {name: host, hostPath: {path: %s, type: DirectoryOrCreate}}
        """.formatted(AgentFixture.quote(script1), AgentFixture.quote(script2), hostDir));
    String out = awaitLog("vols", "c1", "done");
    assertThat(out).contains("cfg=alpha mode=600 ro=yes");
    assertThat(out).contains("sec=s3cret mode=400 fs=tmpfs"); // secrets never touch the disk
    assertThat(out).contains("ns=default ca=THE-CA tok=eyJ");
    assertThat(out).contains("name=vols labels=app=\"vols\" tier=\"x\" mem=64");
    assertThat(out).contains("host=from-host");
    assertThat(out).contains("b=beta");
    assertThat(out).contains("memfs=tmpfs");
    assertThat(out).contains("passwd=1"); // the shadow of / keeps the host's files
    String out2 = awaitLog("vols", "c2", "done");
    assertThat(out2).contains("c2-sees=c1").contains("c2-ro");
    assertThat(Files.readString(hostDir.resolve("from-pod"))).isEqualTo("in-pod\n");
    for (String p : new String[] {"/data", "/etc/skiff-cfg", "/etc/b.conf", "/var/run/secrets", "/run/secrets", "/opt/skiff-secret",
        "/info", "/mem", "/hostdata"}) {
      assertThat(Path.of(p)).as("created on the host").doesNotExist();
    }

    // A changed ConfigMap reaches the running pod's volume (the ..data swap) on its next sync.
    Pod pod = f.get("vols");
    Path cfgDir = f.data.resolve("kubelet/pods").resolve(pod.getMetadata().getUid()).resolve("volumes/kubernetes.io~configmap/cfg");
    assertThat(Files.readString(cfgDir.resolve("sub/a.txt"))).isEqualTo("alpha");
    f.server.kubectl().run("patch", "configmap", "cfg", "-p", "{\"data\":{\"a\":\"omega\"}}").ok();
    f.server.kubectl().run("annotate", "pod", "vols", "touch=1").ok(); // a pod update syncs it at once
    assertThat(AgentFixture.until(Duration.ofSeconds(20), () -> {
      try {
        return Files.readString(cfgDir.resolve("sub/a.txt")).equals("omega");
      } catch (java.io.IOException e) {
        return false;
      }
    })).isTrue();

    f.server.kubectl().run("delete", "pod", "vols", "--wait=false").ok();
    assertThat(AgentFixture.until(Duration.ofSeconds(30), () -> f.get("vols") == null
        && !Files.exists(f.data.resolve("kubelet/pods").resolve(pod.getMetadata().getUid())))).isTrue();
    assertThat(dev.skiff.kubelet.sandbox.Mounts.below(f.data)).isEmpty(); // the tmpfs went with the pod
  }

  static boolean waitingWithMessage(Pod x) {
    return x.getStatus() != null && x.getStatus().getContainerStatuses() != null && !x.getStatus().getContainerStatuses().isEmpty()
        && x.getStatus().getContainerStatuses().get(0).getState().getWaiting() != null
        && x.getStatus().getContainerStatuses().get(0).getState().getWaiting().getMessage() != null;
  }

  @Test
  void aMissingConfigMapKeepsTheContainerWaitingAndABadHostPathTypeIsReported() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: missing-cm}
        spec:
          nodeName: node-a
          containers:
          - name: c
            image: busybox
            command: [sh, -c, 'sleep 3600']
            volumeMounts: [{name: v, mountPath: /cfg}]
          volumes: [{name: v, configMap: {name: nope}}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: bad-hostpath}
        spec:
          nodeName: node-a
          containers:
          - name: c
            image: busybox
            command: [sh, -c, 'sleep 3600']
            volumeMounts: [{name: v, mountPath: /x}]
          volumes: [{name: v, hostPath: {path: /etc/hostname-not-a-dir-%d, type: Directory}}]
        """.formatted(System.nanoTime()));
    Pod p = f.await("missing-cm", ContainerMountsTest::waitingWithMessage);
    var w = p.getStatus().getContainerStatuses().get(0).getState().getWaiting();
    assertThat(w.getReason()).isEqualTo("ContainerCreating");
    assertThat(w.getMessage()).contains("configmap \"nope\" not found");
    Pod h = f.await("bad-hostpath", ContainerMountsTest::waitingWithMessage);
    assertThat(h.getStatus().getContainerStatuses().get(0).getState().getWaiting().getMessage())
        .contains("hostPath type check failed").contains("is not a directory");
    assertThat(phase(h)).isEqualTo("Pending");
    f.server.kubectl().run("delete", "pod", "missing-cm", "bad-hostpath", "--wait=false").ok();
  }

  @Test
  void resolvConfHostsAndServiceVariablesInsideTheContainer() throws Exception {
    String hostResolv = Files.readString(Path.of("/etc/resolv.conf"));
    String hostHosts = Files.readString(Path.of("/etc/hosts"));
    f.apply("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          clusterIP: 10.43.0.77
          ports: [{name: http, port: 80, targetPort: 8080}]
        """);
    String show = "cat /etc/resolv.conf /etc/hosts; env | grep ^WEB_ | sort; echo uts=$(cat /proc/sys/kernel/hostname);"
        + " echo done; exec sleep 3600";
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: dns}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 1
          hostname: db
          subdomain: backends
          hostAliases: [{ip: 10.1.2.3, hostnames: [foo.local, bar.local]}]
          dnsConfig: {searches: [x.example]}
          containers:
          - {name: c, image: busybox, command: [sh, -c, %1$s]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: dns-default}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 1
          dnsPolicy: Default
          enableServiceLinks: false
          containers:
          - {name: c, image: busybox, command: [sh, -c, %1$s]}
        """.formatted(AgentFixture.quote(show)));
    String out = awaitLog("dns", "c", "done");
    String ip = f.get("dns").getStatus().getPodIP();
    assertThat(out).contains("search default.svc.cluster.local svc.cluster.local cluster.local").contains("x.example\n")
        .contains("nameserver 10.43.0.10\n").contains("options ndots:5\n")
        .contains(ip + "\tdb.backends.default.svc.cluster.local\tdb\n").contains("10.1.2.3\tfoo.local\tbar.local\n")
        .contains("WEB_SERVICE_HOST=10.43.0.77\n").contains("WEB_SERVICE_PORT_HTTP=80\n")
        .contains("WEB_PORT=tcp://10.43.0.77:80\n").contains("WEB_PORT_80_TCP_ADDR=10.43.0.77\n")
        .contains("uts=db\n"); // the pod's host name, in its own UTS namespace
    String def = awaitLog("dns-default", "c", "done");
    assertThat(def).startsWith(hostResolv).doesNotContain("WEB_SERVICE_HOST").contains("uts=dns-default\n");
    assertThat(Files.readString(Path.of("/proc/sys/kernel/hostname")).trim()).isNotIn("db", "dns-default");
    assertThat(Files.readString(Path.of("/etc/resolv.conf"))).isEqualTo(hostResolv);
    assertThat(Files.readString(Path.of("/etc/hosts"))).isEqualTo(hostHosts);
    f.server.kubectl().run("delete", "pod", "dns", "dns-default", "--wait=false").ok();
  }
}
