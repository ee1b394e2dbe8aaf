package dev.skiff.apiserver.pki;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's certificate authority and the certificates Skiff serves and hands out, kept under
 * {@code DATA_DIR/pki} in kubeadm's layout ({@code ca.crt}, {@code ca.key}, {@code apiserver.crt},
 * {@code apiserver.key}, {@code admin.crt}, {@code admin.key}; PEM, keys PKCS#8 and mode 0600).
 *
 * <p>The first start generates everything (EC P-256: key generation is ~1 ms where RSA-2048 takes
 * tens to hundreds). Later starts only parse PEMs with JDK APIs and re-issue a leaf only when it is
 * missing, not signed by the current CA, not matching its key, within {@link #RENEW_BEFORE} of expiry
 * or — for the serving certificate — no longer covering this host's names and addresses.
 *
 * <p>Not safe against two processes initialising the same data directory at the same moment; the
 * data directory is owned by one server.
 */
public final class ClusterPki {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterPki.class);

  public static final String ADMIN_USER = "skiff-admin";
  public static final String ADMIN_GROUP = "system:masters";
  public static final String CLUSTER_NAME = "skiff";
  public static final String KUBECONFIG_FILE = "kubeconfig.yaml";

  static final String CA = "ca";
  static final String SERVER = "apiserver";
  static final String ADMIN = "admin";
  static final String CA_CN = "skiff-ca";
  static final String SERVER_CN = "skiff-apiserver";
  static final Duration CA_VALIDITY = Duration.ofDays(3650);
  static final Duration LEAF_VALIDITY = Duration.ofDays(365);
  /** Leaves are renewed this long before they expire (kubeadm warns at 30 days as well). */
  static final Duration RENEW_BEFORE = Duration.ofDays(30);
  /** NotBefore is back-dated so a client whose clock is slightly behind still accepts a new cert. */
  static final Duration BACKDATE = Duration.ofMinutes(5);
  /** Only protects the in-memory KeyStore; it is never written anywhere. */
  private static final char[] KEYSTORE_PASSWORD = "skiff".toCharArray();

  private final Path dataDir;
  private final Clock clock;
  private final X509Certificate ca;
  private final PrivateKey caKey;
  private final PrivateKey serverKey;
  private final X509Certificate serverCert;
  private final PrivateKey adminKey;
  private final X509Certificate adminCert;
  private final List<String> generated;

  private ClusterPki(Path dataDir, Clock clock, KeyAndCert ca, KeyAndCert server, KeyAndCert admin,
      List<String> generated) {
    this.dataDir = dataDir;
    this.clock = clock;
    this.ca = ca.cert;
    this.caKey = ca.key;
    this.serverKey = server.key;
    this.serverCert = server.cert;
    this.adminKey = admin.key;
    this.adminCert = admin.cert;
    this.generated = List.copyOf(generated);
  }

  /**
   * Loads the PKI under {@code dataDir/pki}, creating or renewing whatever is missing or unusable.
   *
   * @param extraSans additional serving-certificate SANs; IP literals become IP SANs, others DNS
   */
  public static ClusterPki loadOrCreate(Path dataDir, List<String> extraSans)
      throws IOException, GeneralSecurityException {
    return loadOrCreate(dataDir, SubjectAltNames.forHost(extraSans), Clock.systemUTC());
  }

  static ClusterPki loadOrCreate(Path dataDir, SubjectAltNames requiredSans, Clock clock)
      throws IOException, GeneralSecurityException {
    Path pki = dataDir.resolve("pki");
    Files.createDirectories(pki);
    Instant now = clock.instant();
    List<String> generated = new ArrayList<>();

    KeyAndCert ca = load(pki, CA);
    if (ca == null) {
      if (Files.exists(pki.resolve(CA + ".crt"))) {
        // Never silently replace a CA someone put there: every kubeconfig trusting it would break.
        throw new GeneralSecurityException(pki.resolve(CA + ".crt")
            + " exists but " + CA + ".key is missing or unreadable; Skiff needs the CA key");
      }
      KeyPair kp = CertificateIssuer.newKeyPair();
      ca = new KeyAndCert(kp.getPrivate(), CertificateIssuer.selfSignedCa(
          kp, CA_CN, now.minus(BACKDATE), now.plus(CA_VALIDITY)));
      store(pki, CA, ca);
      generated.add(CA);
    } else if (!ca.cert.getNotAfter().toInstant().isAfter(now)) {
      throw new GeneralSecurityException("CA certificate " + pki.resolve(CA + ".crt") + " expired at "
          + ca.cert.getNotAfter().toInstant() + "; remove " + pki + " to create a new cluster CA");
    }

    KeyAndCert server = load(pki, SERVER);
    String why = unusable(server, ca.cert, now);
    if (why == null && !SubjectAltNames.of(server.cert).covers(requiredSans)) {
      why = "does not cover " + requiredSans;
    }
    if (why != null) {
      server = issue(ca, SERVER_CN, List.of(), true, requiredSans, now);
      store(pki, SERVER, server);
      generated.add(SERVER);
      if (!why.equals("missing")) LOG.info("Re-issued serving certificate: previous one {}", why);
    }

    KeyAndCert admin = load(pki, ADMIN);
    why = unusable(admin, ca.cert, now);
    if (why != null) {
      admin = issue(ca, ADMIN_USER, List.of(ADMIN_GROUP), false, null, now);
      store(pki, ADMIN, admin);
      generated.add(ADMIN);
    }
    if (!generated.isEmpty()) LOG.info("Generated {} under {}", generated, pki);
    return new ClusterPki(dataDir, clock, ca, server, admin, generated);
  }

  public Path dataDir() {
    return dataDir;
  }

  public Path pkiDir() {
    return dataDir.resolve("pki");
  }

  /** Which of "ca", "apiserver", "admin" were (re)generated by this start; empty on a plain reload. */
  public List<String> generated() {
    return generated;
  }

  public X509Certificate caCertificate() {
    return ca;
  }

  public PrivateKey serverKey() {
    return serverKey;
  }

  /** The serving certificate followed by the CA, as sent in the TLS handshake. */
  public List<X509Certificate> serverCertificateChain() {
    return List.of(serverCert, ca);
  }

  public PrivateKey adminKey() {
    return adminKey;
  }

  public X509Certificate adminCertificate() {
    return adminCert;
  }

  /** In-memory PKCS#12 key store holding the serving key and chain under alias "apiserver". */
  public KeyStore keyStore() throws GeneralSecurityException {
    KeyStore ks = emptyKeyStore();
    ks.setKeyEntry(SERVER, serverKey, KEYSTORE_PASSWORD, serverCertificateChain().toArray(X509Certificate[]::new));
    return ks;
  }

  /** In-memory trust store containing only the cluster CA (alias "ca"). */
  public KeyStore trustStore() throws GeneralSecurityException {
    KeyStore ks = emptyKeyStore();
    ks.setCertificateEntry(CA, ca);
    return ks;
  }

  /** Password of {@link #keyStore()} and its key entry (a copy). */
  public char[] keyStorePassword() {
    return KEYSTORE_PASSWORD.clone();
  }

  /**
   * An SSLContext serving the apiserver certificate and trusting client certificates from the CA.
   * Whether client certificates are requested is a per-socket setting: callers should use
   * {@code setWantClientAuth(true)} (never "need": clients may authenticate with tokens instead).
   */
  public SSLContext serverSslContext() throws GeneralSecurityException {
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keyStore(), KEYSTORE_PASSWORD);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trustStore());
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  /**
   * A Jetty SslContextFactory with this PKI: serving chain, trust = CA, client auth wanted but not
   * needed (like kube-apiserver's VerifyClientCertIfGiven: a presented certificate that does not
   * chain to the CA fails the handshake, an absent one is fine).
   */
  public SslContextFactory.Server sslContextFactory() throws GeneralSecurityException {
    SslContextFactory.Server f = new SslContextFactory.Server();
    f.setKeyStore(keyStore());
    f.setKeyStorePassword(new String(KEYSTORE_PASSWORD));
    f.setKeyManagerPassword(new String(KEYSTORE_PASSWORD));
    f.setTrustStore(trustStore());
    f.setWantClientAuth(true);
    f.setNeedClientAuth(false);
    return f;
  }

  /** Issues a client certificate (CN = user name, O = groups) signed by the cluster CA. */
  public IssuedCertificate issueClientCertificate(String cn, List<String> orgs, Duration validity)
      throws GeneralSecurityException {
    if (cn == null || cn.isEmpty()) throw new IllegalArgumentException("common name must not be empty");
    Instant now = clock.instant();
    Instant notAfter = now.plus(validity);
    // A leaf outliving its CA would be rejected by strict verifiers anyway; cap it.
    if (notAfter.isAfter(ca.getNotAfter().toInstant())) notAfter = ca.getNotAfter().toInstant();
    KeyPair kp = CertificateIssuer.newKeyPair();
    X509Certificate cert = CertificateIssuer.issueLeaf(
        ca, caKey, kp.getPublic(), cn, List.copyOf(orgs), false, null, now.minus(BACKDATE), notAfter);
    return new IssuedCertificate(kp.getPrivate(), cert, ca);
  }

  /**
   * Issues a serving certificate (serverAuth) signed by the cluster CA for {@code sans} (IP
   * literals become IP SANs, anything else DNS names); {@code forHost} adds this host's names
   * and addresses (localhost, loopback, host name, every up interface), as for the API server.
   * For node agents (upstream: the kubelet-serving signer).
   */
  public IssuedCertificate issueServingCertificate(String cn, List<String> orgs, List<String> sans, boolean forHost,
      Duration validity) throws GeneralSecurityException {
    Instant now = clock.instant();
    Instant notAfter = now.plus(validity);
    if (notAfter.isAfter(ca.getNotAfter().toInstant())) notAfter = ca.getNotAfter().toInstant();
    KeyPair kp = CertificateIssuer.newKeyPair();
    X509Certificate cert = CertificateIssuer.issueLeaf(ca, caKey, kp.getPublic(), cn, List.copyOf(orgs), true,
        forHost ? SubjectAltNames.forHost(sans) : SubjectAltNames.parse(sans), now.minus(BACKDATE), notAfter);
    return new IssuedCertificate(kp.getPrivate(), cert, ca);
  }

  /** The admin kubeconfig (cluster/context "skiff", user "skiff-admin") for {@code serverUrl}. */
  public Kubeconfig adminKubeconfig(String serverUrl) {
    return Kubeconfig.withClientCertificate(
        CLUSTER_NAME, serverUrl, List.of(ca), ADMIN_USER, List.of(adminCert), adminKey);
  }

  /**
   * Writes {@code DATA_DIR/kubeconfig.yaml} for https://127.0.0.1:{@code port} (mode 0600, it holds
   * the admin key). The file is left untouched when its content would not change.
   */
  public Path writeAdminKubeconfig(int port) throws IOException {
    Path file = dataDir.resolve(KUBECONFIG_FILE);
    adminKubeconfig("https://127.0.0.1:" + port).write(file);
    return file;
  }

  // ---------------------------------------------------------------------------------------------

  private record KeyAndCert(PrivateKey key, X509Certificate cert) {}

  private static KeyAndCert issue(KeyAndCert ca, String cn, List<String> orgs, boolean server,
      SubjectAltNames sans, Instant now) throws GeneralSecurityException {
    KeyPair kp = CertificateIssuer.newKeyPair();
    Instant notAfter = now.plus(LEAF_VALIDITY);
    if (notAfter.isAfter(ca.cert.getNotAfter().toInstant())) notAfter = ca.cert.getNotAfter().toInstant();
    return new KeyAndCert(kp.getPrivate(), CertificateIssuer.issueLeaf(
        ca.cert, ca.key, kp.getPublic(), cn, orgs, server, sans, now.minus(BACKDATE), notAfter));
  }

  /** Reads NAME.key and NAME.crt; null if either is missing or does not parse. */
  private static KeyAndCert load(Path pki, String name) throws IOException {
    Path keyFile = pki.resolve(name + ".key");
    Path certFile = pki.resolve(name + ".crt");
    if (!Files.isRegularFile(keyFile) || !Files.isRegularFile(certFile)) return null;
    try {
      PrivateKey key = Pem.parsePrivateKey(Files.readAllBytes(keyFile));
      X509Certificate cert = Pem.parseCertificates(Files.readAllBytes(certFile)).get(0);
      return new KeyAndCert(key, cert);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      LOG.warn("Ignoring unreadable {}/{}.{{crt,key}}: {}", pki, name, e.toString());
      return null;
    }
  }

  /** Why a stored leaf cannot be reused, or null if it can. */
  private static String unusable(KeyAndCert leaf, X509Certificate ca, Instant now) {
    if (leaf == null) return "missing";
    try {
      leaf.cert.verify(ca.getPublicKey());
    } catch (GeneralSecurityException e) {
      return "is not signed by the current CA";
    }
    if (!keyMatches(leaf.key, leaf.cert.getPublicKey())) return "does not match its key";
    if (leaf.cert.getNotBefore().toInstant().isAfter(now)) return "is not yet valid";
    if (leaf.cert.getNotAfter().toInstant().isBefore(now.plus(RENEW_BEFORE))) {
      return "expires at " + leaf.cert.getNotAfter().toInstant();
    }
    return null;
  }

  /** Sign-and-verify probe: the JDK offers no portable way to derive a public key from a private one. */
  private static boolean keyMatches(PrivateKey key, PublicKey pub) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) return false;
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
    try {
      byte[] probe = "skiff-key-probe".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(pub);
      s.update(probe);
      return s.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static void store(Path pki, String name, KeyAndCert kc) throws IOException {
    // Key first: if we crash in between, the stale certificate no longer matches and is re-issued.
    SecureFiles.write(pki.resolve(name + ".key"),
        Pem.encodePrivateKey(kc.key).getBytes(StandardCharsets.US_ASCII), true);
    SecureFiles.write(pki.resolve(name + ".crt"),
        Pem.encodeCertificates(List.of(kc.cert)).getBytes(StandardCharsets.US_ASCII), false);
  }

  private static KeyStore emptyKeyStore() throws GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try {
      ks.load(null, null);
    } catch (IOException e) {
      throw new GeneralSecurityException(e);
    }
    return ks;
  }
}
