package dev.skiff.apiserver.pki;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A freshly issued key pair and certificate, together with the CA certificate that signed it, so
 * the holder has everything needed for a kubeconfig or a TLS client.
 */
public record IssuedCertificate(PrivateKey privateKey, X509Certificate certificate, X509Certificate ca) {

  /** PKCS#8 PEM, as written to {@code *.key} files. */
  public String privateKeyPem() {
    return Pem.encodePrivateKey(privateKey);
  }

  public String certificatePem() {
    return Pem.encodeCertificates(List.of(certificate));
  }

  /** A kubeconfig that authenticates with this certificate against {@code server}. */
  public Kubeconfig kubeconfig(String clusterName, String server, String userName) {
    return Kubeconfig.withClientCertificate(
        clusterName, server, List.of(ca), userName, List.of(certificate), privateKey);
  }
}
