package dev.skiff.cli;

import dev.skiff.apiserver.nodes.NodeCredentials;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.IssuedCertificate;
import dev.skiff.apiserver.pki.Pem;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The node agent's serving credentials (its mutual-TLS log/streaming server): three PEM files
 * handed to it as the options {@code kubelet.tls-cert-file}, {@code kubelet.tls-private-key-file}
 * and {@code kubelet.client-ca-file}. Options already set by the user are left alone.
 */
final class NodeServing {
  static final String CERT = "kubelet.tls-cert-file";
  static final String KEY = "kubelet.tls-private-key-file";
  static final String CLIENT_CA = "kubelet.client-ca-file";

  private NodeServing() {}

  /**
   * {@code skiff server}'s own agent: a certificate from the cluster CA for this host's names
   * and addresses (and {@code kubelet.node-ip} if set), issued at every start.
   */
  static void forLocalAgent(ClusterPki pki, Path dataDir, String nodeName, Map<String, String> options)
      throws GeneralSecurityException, IOException {
    if (options.containsKey(CERT) || options.containsKey(KEY) || options.containsKey(CLIENT_CA)) {
      return;
    }
    List<String> extra = new ArrayList<>();
    if (options.get("kubelet.node-ip") != null) {
      extra.add(options.get("kubelet.node-ip"));
    }
    IssuedCertificate cert = pki.issueServingCertificate("system:node:" + nodeName,
        List.of(NodeCredentials.NODES_GROUP), extra, true, Duration.ofDays(365));
    Path dir = dataDir.resolve("pki");
    write(dir, "kubelet-serving.crt", cert.certificatePem(), "kubelet-serving.key", cert.privateKeyPem(),
        "kubelet-client-ca.crt", Pem.encodeCertificates(List.of(pki.caCertificate())), options);
  }

  /** Writes the three files under {@code dir} (the key 0600) and sets the options to them. */
  static void write(Path dir, String certName, String certPem, String keyName, String keyPem, String caName,
      String caPem, Map<String, String> options) throws IOException {
    Files.createDirectories(dir);
    Path key = dir.resolve(keyName);
    Path tmp = dir.resolve(keyName + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, keyPem);
    Files.move(tmp, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Files.writeString(dir.resolve(certName), certPem);
    Files.writeString(dir.resolve(caName), caPem);
    options.putIfAbsent(CERT, dir.resolve(certName).toString());
    options.putIfAbsent(KEY, key.toString());
    options.putIfAbsent(CLIENT_CA, dir.resolve(caName).toString());
  }

  /**
   * The addresses a joining agent serves on: its host name and every address of an up interface
   * except link-local ones (what the node's InternalIP will be among them), plus
   * {@code kubelet.node-ip} when set.
   */
  static List<String> localAddresses(Map<String, String> options) {
    List<String> out = new ArrayList<>();
    out.add(ComponentRunner.hostName());
    if (options.get("kubelet.node-ip") != null) {
      out.add(options.get("kubelet.node-ip"));
    }
    try {
      for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!nic.isUp()) {
          continue;
        }
        for (InetAddress a : Collections.list(nic.getInetAddresses())) {
          if (!a.isLinkLocalAddress() && !out.contains(a.getHostAddress().replaceAll("%.*", ""))) {
            out.add(a.getHostAddress().replaceAll("%.*", ""));
          }
        }
      }
    } catch (SocketException e) {
      // the host name (and node-ip) still make a usable certificate
    }
    return out.size() > 64 ? out.subList(0, 64) : out;
  }
}
