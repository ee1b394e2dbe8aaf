package dev.skiff.kubelet;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Mutual TLS for the agent's log and streaming servers (the kubelet's --tls-cert-file,
 * --tls-private-key-file and --client-ca-file, options {@code kubelet.tls-cert-file},
 * {@code kubelet.tls-private-key-file}, {@code kubelet.client-ca-file}): the servers present the
 * node's serving certificate and accept only clients whose certificate chains to the client CA
 * and whose CN is one of {@code allowedClients} - the API server's kubelet client
 * ({@code kube-apiserver-kubelet-client}). Upstream authorizes each request with a
 * SubjectAccessReview instead; this agent has exactly one legitimate caller, so a name check
 * does: another node's certificate, though signed by the same CA, is refused. PEM files: a
 * certificate chain and a PKCS#8 private key (EC or RSA). Immutable; thread-safe.
 */
public final class ServingTls {
  /** The CN of the API server's client certificate (apiserver KubeletClient.CLIENT_CN). */
  public static final String API_SERVER_CLIENT = "kube-apiserver-kubelet-client";

  private final SSLContext context;

  private ServingTls(SSLContext context) {
    this.context = context;
  }

  /** Reads the three files; the client CA's certificates are trusted for {@code allowedClients} only. */
  public static ServingTls load(Path certFile, Path keyFile, Path clientCaFile, List<String> allowedClients)
      throws IOException, GeneralSecurityException {
    List<X509Certificate> chain = certificates(Files.readAllBytes(certFile));
    if (chain.isEmpty()) {
      throw new GeneralSecurityException("no certificate in " + certFile);
    }
    PrivateKey key = privateKey(Files.readString(keyFile, StandardCharsets.US_ASCII));
    char[] pass = "serving".toCharArray();
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("serving", key, pass, chain.toArray(Certificate[]::new));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, pass);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    int i = 0;
    for (X509Certificate ca : certificates(Files.readAllBytes(clientCaFile))) {
      trust.setCertificateEntry("ca" + i++, ca);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    X509ExtendedTrustManager ca = null;
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) {
        ca = x;
      }
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), new TrustManager[] {new NamedClients(ca, List.copyOf(allowedClients))}, null);
    return new ServingTls(ctx);
  }

  /** The server context; servers must also require client certificates (needClientAuth). */
  public SSLContext context() {
    return context;
  }

  private static List<X509Certificate> certificates(byte[] pem) throws CertificateException {
    List<X509Certificate> out = new ArrayList<>();
    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
      out.add((X509Certificate) c);
    }
    return out;
  }

  private static PrivateKey privateKey(String pem) throws GeneralSecurityException {
    int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < 0) {
      throw new GeneralSecurityException("expected a PKCS#8 PEM private key (BEGIN PRIVATE KEY)");
    }
    byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + 27, end));
    GeneralSecurityException last = null;
    for (String alg : new String[] {"EC", "RSA"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        last = e;
      }
    }
    throw last;
  }

  /** The CA's verdict, then the client's CN against the allowed names. */
  private static final class NamedClients extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager ca;
    private final List<String> allowed;

    NamedClients(X509ExtendedTrustManager ca, List<String> allowed) {
      this.ca = ca;
      this.allowed = allowed;
    }

    private void checkName(X509Certificate[] chain) throws CertificateException {
      String cn = null;
      try {
        for (Rdn rdn : new LdapName(chain[0].getSubjectX500Principal().getName()).getRdns()) {
          if (rdn.getType().equalsIgnoreCase("CN")) {
            cn = rdn.getValue().toString();
          }
        }
      } catch (javax.naming.InvalidNameException e) {
        throw new CertificateException("unreadable client name", e);
      }
      if (!allowed.contains(cn)) {
        throw new CertificateException("client " + cn + " may not use this node agent");
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      ca.checkClientTrusted(chain, authType, socket);
      checkName(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      ca.checkClientTrusted(chain, authType, engine);
      checkName(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      ca.checkClientTrusted(chain, authType);
      checkName(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      throw new CertificateException("server side only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      throw new CertificateException("server side only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      throw new CertificateException("server side only");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return ca.getAcceptedIssuers();
    }
  }
}
