package dev.skiff.apiserver.pki;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * Issues X.509 v3 certificates: TBSCertificate encoded with {@link Der}, signed by the JDK's
 * {@link Signature}, parsed back through {@link CertificateFactory} (which also validates the
 * encoding). Profiles follow kubeadm: CA 10 years, leaves 1 year, random 127-bit serials, SKI/AKI.
 */
final class CertificateIssuer {
  private static final SecureRandom RANDOM = new SecureRandom();

  private static final String OID_CN = "2.5.4.3";
  private static final String OID_O = "2.5.4.10";
  private static final String OID_BASIC_CONSTRAINTS = "2.5.29.19";
  private static final String OID_KEY_USAGE = "2.5.29.15";
  private static final String OID_EXT_KEY_USAGE = "2.5.29.37";
  private static final String OID_SKI = "2.5.29.14";
  private static final String OID_AKI = "2.5.29.35";
  private static final String OID_SAN = "2.5.29.17";
  private static final String OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final String OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

  // KeyUsage bits are numbered from the most significant bit of the first octet.
  private static final int KU_DIGITAL_SIGNATURE = 0x80;
  private static final int KU_KEY_ENCIPHERMENT = 0x20;
  private static final int KU_KEY_CERT_SIGN = 0x04;

  private CertificateIssuer() {}

  static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return g.generateKeyPair();
  }

  static X509Certificate selfSignedCa(KeyPair kp, String cn, Instant notBefore, Instant notAfter)
      throws GeneralSecurityException {
    byte[] name = name(cn, List.of());
    byte[] ski = keyIdentifier(kp.getPublic());
    byte[] extensions = Der.seq(
        extension(OID_BASIC_CONSTRAINTS, true, Der.seq(Der.bool(true))),
        extension(OID_KEY_USAGE, true,
            keyUsage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_CERT_SIGN)),
        extension(OID_SKI, false, Der.octets(ski)));
    return sign(name, name, kp.getPublic(), notBefore, notAfter, extensions, kp.getPrivate());
  }

  /**
   * Issues a leaf certificate. {@code server} selects serverAuth with {@code sans}, otherwise
   * clientAuth (Kubernetes' x509 authenticator requires the clientAuth extended key usage).
   */
  static X509Certificate issueLeaf(X509Certificate ca, PrivateKey caKey, PublicKey subjectKey,
      String cn, List<String> orgs, boolean server, SubjectAltNames sans,
      Instant notBefore, Instant notAfter) throws GeneralSecurityException {
    ByteArrayOutputStream ext = new ByteArrayOutputStream();
    ext.writeBytes(extension(OID_BASIC_CONSTRAINTS, true, Der.seq()));
    // keyEncipherment is meaningless for EC keys but harmless, and kubeadm sets it for RSA leaves.
    ext.writeBytes(extension(OID_KEY_USAGE, true, keyUsage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT)));
    ext.writeBytes(extension(OID_EXT_KEY_USAGE, false,
        Der.seq(Der.oid(server ? OID_SERVER_AUTH : OID_CLIENT_AUTH))));
    ext.writeBytes(extension(OID_AKI, false, Der.seq(Der.tlv(0x80, authorityKeyId(ca)))));
    if (sans != null && !(sans.dnsNames().isEmpty() && sans.ipAddresses().isEmpty())) {
      ByteArrayOutputStream names = new ByteArrayOutputStream();
      for (String d : sans.dnsNames()) {
        names.writeBytes(Der.tlv(0x82, d.getBytes(StandardCharsets.US_ASCII))); // [2] dNSName
      }
      for (InetAddress ip : sans.ipAddresses()) {
        names.writeBytes(Der.tlv(0x87, ip.getAddress())); // [7] iPAddress
      }
      ext.writeBytes(extension(OID_SAN, false, Der.tlv(Der.SEQUENCE, names.toByteArray())));
    }
    // Issuer copied byte-for-byte from the CA's subject so name chaining matches exactly.
    byte[] issuer = ca.getSubjectX500Principal().getEncoded();
    return sign(issuer, name(cn, orgs), subjectKey, notBefore, notAfter,
        Der.tlv(Der.SEQUENCE, ext.toByteArray()), caKey);
  }

  private static X509Certificate sign(byte[] issuer, byte[] subject, PublicKey subjectKey,
      Instant notBefore, Instant notAfter, byte[] extensions, PrivateKey signer)
      throws GeneralSecurityException {
    String alg = switch (signer.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> throw new GeneralSecurityException("unsupported CA key algorithm " + signer.getAlgorithm());
    };
    byte[] algId = switch (alg) {
      case "SHA256withECDSA" -> Der.seq(Der.oid("1.2.840.10045.4.3.2"));
      case "SHA256withRSA" -> Der.seq(Der.oid("1.2.840.113549.1.1.11"), Der.tlv(Der.NULL));
      default -> Der.seq(Der.oid("1.3.101.112"));
    };
    byte[] tbs = Der.seq(
        Der.tlv(0xa0, Der.integer(BigInteger.TWO)), // [0] EXPLICIT version v3
        Der.integer(new BigInteger(127, RANDOM).add(BigInteger.ONE)),
        algId,
        issuer,
        Der.seq(Der.time(notBefore), Der.time(notAfter)),
        subject,
        subjectKey.getEncoded(), // already a DER SubjectPublicKeyInfo
        Der.tlv(0xa3, extensions)); // [3] EXPLICIT extensions
    Signature s = Signature.getInstance(alg);
    s.initSign(signer);
    s.update(tbs);
    byte[] cert = Der.seq(tbs, algId, Der.bitString(0, s.sign()));
    return (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(cert));
  }

  /** O attributes first, then CN — the order Go's pkix.Name (and thus kubeadm) produces. */
  private static byte[] name(String cn, List<String> orgs) {
    ByteArrayOutputStream rdns = new ByteArrayOutputStream();
    for (String o : orgs) rdns.writeBytes(Der.tlv(Der.SET, Der.seq(Der.oid(OID_O), Der.utf8(o))));
    rdns.writeBytes(Der.tlv(Der.SET, Der.seq(Der.oid(OID_CN), Der.utf8(cn))));
    return Der.tlv(Der.SEQUENCE, rdns.toByteArray());
  }

  private static byte[] extension(String oid, boolean critical, byte[] value) {
    return critical
        ? Der.seq(Der.oid(oid), Der.bool(true), Der.octets(value))
        : Der.seq(Der.oid(oid), Der.octets(value));
  }

  private static byte[] keyUsage(int bits) {
    return Der.bitString(Integer.numberOfTrailingZeros(bits), new byte[] {(byte) bits});
  }

  /** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
  static byte[] keyIdentifier(PublicKey key) throws GeneralSecurityException {
    byte[] spki = key.getEncoded();
    int[] outer = Der.contents(spki, 0);
    int[] algId = Der.contents(spki, outer[0]);
    int[] bits = Der.contents(spki, algId[1]);
    // Skip the leading "unused bits" octet of the BIT STRING.
    return MessageDigest.getInstance("SHA-1").digest(Arrays.copyOfRange(spki, bits[0] + 1, bits[1]));
  }

  /** The CA's own SKI if it has one (a kubeadm CA might use another method), else computed. */
  private static byte[] authorityKeyId(X509Certificate ca) throws GeneralSecurityException {
    byte[] ext = ca.getExtensionValue(OID_SKI); // OCTET STRING { OCTET STRING keyId }
    if (ext != null) {
      int[] outer = Der.contents(ext, 0);
      int[] inner = Der.contents(ext, outer[0]);
      return Arrays.copyOfRange(ext, inner[0], inner[1]);
    }
    return keyIdentifier(ca.getPublicKey());
  }
}
