package dev.skiff.apiserver.auth;

import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.naming.NamingException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.security.auth.x500.X500Principal;

/**
 * X.509 client-certificate authentication: user = subject CN, groups = subject O values, as
 * kube-apiserver's --client-ca-file authenticator.
 *
 * <p>The TLS layer already validated the chain against its trust store, but that store is
 * configured elsewhere and may grow (e.g. a front proxy CA), so this re-checks what makes the
 * certificate a cluster identity: the chain leads to the cluster CA by signatures, every element is
 * within its validity period, intermediates are CAs, the leaf is not a CA and may be used for client
 * authentication. Results are cached per leaf until the chain's earliest expiry, since with HTTP/2
 * every request of a connection presents the same certificate.
 */
public final class ClientCertificateAuthenticator implements Authenticator {
  private static final String EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String EKU_ANY = "2.5.29.37.0";
  private static final int CACHE_LIMIT = 4096;

  private final X509Certificate ca;
  private final Clock clock;
  private final Map<X509Certificate, Cached> cache = new ConcurrentHashMap<>();

  private record Cached(UserInfo user, Instant notAfter) {}

  public ClientCertificateAuthenticator(X509Certificate ca) {
    this(ca, Clock.systemUTC());
  }

  ClientCertificateAuthenticator(X509Certificate ca, Clock clock) {
    this.ca = ca;
    this.clock = clock;
  }

  @Override
  public UserInfo authenticate(X509Certificate[] peerChain, String authorizationHeader)
      throws AuthenticationException {
    if (peerChain == null || peerChain.length == 0) return null;
    X509Certificate leaf = peerChain[0];
    Instant now = clock.instant();
    Cached c = cache.get(leaf);
    if (c != null && now.isBefore(c.notAfter)) return c.user;

    Instant notAfter = verifyChain(peerChain, now);
    UserInfo user = userOf(leaf);
    if (cache.size() >= CACHE_LIMIT) cache.clear(); // crude bound; entries are cheap to recompute
    cache.put(leaf, new Cached(user, notAfter));
    return user;
  }

  /** Returns the earliest notAfter along the path to the CA. */
  private Instant verifyChain(X509Certificate[] chain, Instant now) throws AuthenticationException {
    X509Certificate leaf = chain[0];
    if (leaf.getBasicConstraints() >= 0) {
      throw new AuthenticationException("x509: a CA certificate cannot be used as a client certificate");
    }
    try {
      List<String> eku = leaf.getExtendedKeyUsage();
      // Like Go's x509: no EKU extension means "any usage".
      if (eku != null && !eku.contains(EKU_CLIENT_AUTH) && !eku.contains(EKU_ANY)) {
        throw new AuthenticationException("x509: certificate specifies an incompatible key usage");
      }
    } catch (java.security.cert.CertificateParsingException e) {
      throw new AuthenticationException("x509: unreadable extended key usage", e);
    }
    Instant earliest = ca.getNotAfter().toInstant();
    checkValidity(ca, now);
    for (int i = 0; i < chain.length; i++) {
      X509Certificate cert = chain[i];
      checkValidity(cert, now);
      if (cert.getNotAfter().toInstant().isBefore(earliest)) earliest = cert.getNotAfter().toInstant();
      if (signedBy(cert, ca)) return earliest;
      X509Certificate next = i + 1 < chain.length ? chain[i + 1] : null;
      if (next == null || next.getBasicConstraints() < 0 || !signedBy(cert, next)) break;
    }
    throw new AuthenticationException(
        "x509: certificate signed by unknown authority (subject " + leaf.getSubjectX500Principal() + ")");
  }

  private static boolean signedBy(X509Certificate cert, X509Certificate issuer) {
    if (!cert.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) return false;
    try {
      cert.verify(issuer.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static void checkValidity(X509Certificate cert, Instant now) throws AuthenticationException {
    if (now.isBefore(cert.getNotBefore().toInstant())) {
      throw new AuthenticationException("x509: certificate " + cert.getSubjectX500Principal()
          + " is not valid before " + cert.getNotBefore().toInstant());
    }
    if (now.isAfter(cert.getNotAfter().toInstant())) {
      throw new AuthenticationException("x509: certificate " + cert.getSubjectX500Principal()
          + " has expired at " + cert.getNotAfter().toInstant());
    }
  }

  static UserInfo userOf(X509Certificate leaf) throws AuthenticationException {
    String cn = null;
    List<String> orgs = new ArrayList<>();
    try {
      // RFC 2253 order is reversed (most specific first); walk the RDNs in encoding order so the
      // groups keep the order they were issued in.
      for (Rdn rdn : new LdapName(leaf.getSubjectX500Principal().getName(X500Principal.RFC2253)).getRdns()) {
        for (var attrs = rdn.toAttributes().getAll(); attrs.hasMore(); ) {
          var attr = attrs.next();
          for (var vals = attr.getAll(); vals.hasMore(); ) {
            String v = String.valueOf(vals.next());
            if (attr.getID().equalsIgnoreCase("CN") && cn == null) cn = v;
            if (attr.getID().equalsIgnoreCase("O")) orgs.add(v);
          }
        }
      }
    } catch (NamingException e) {
      throw new AuthenticationException("x509: unreadable subject", e);
    }
    if (cn == null || cn.isEmpty()) throw new AuthenticationException("x509: subject has no common name");
    return new UserInfo(cn, "", orgs, Map.of());
  }
}
