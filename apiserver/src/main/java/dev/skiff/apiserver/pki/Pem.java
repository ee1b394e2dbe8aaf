package dev.skiff.apiserver.pki;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM encoding and decoding with plain JDK APIs.
 *
 * <p>Skiff writes private keys as PKCS#8 ("PRIVATE KEY"), which the JDK's {@link KeyFactory} reads
 * directly, so a restart never touches BouncyCastle. openssl, curl and Go's {@code tls.X509KeyPair}
 * (kubectl, client-go) all accept PKCS#8. Keys written by other tools (kubeadm writes SEC1
 * "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY") fall back to BouncyCastle, loaded only then.
 */
public final class Pem {
  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");

  private Pem() {}

  /** One decoded PEM block. */
  record Block(String type, byte[] der) {}

  static String encode(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }

  public static String encodeCertificates(List<X509Certificate> certs) {
    StringBuilder sb = new StringBuilder();
    try {
      for (X509Certificate c : certs) sb.append(encode("CERTIFICATE", c.getEncoded()));
    } catch (CertificateException e) {
      throw new IllegalStateException("certificate cannot be encoded", e);
    }
    return sb.toString();
  }

  public static String encodePrivateKey(PrivateKey key) {
    if (!"PKCS#8".equals(key.getFormat())) {
      throw new IllegalArgumentException("private key is not PKCS#8 encodable: " + key.getFormat());
    }
    return encode("PRIVATE KEY", key.getEncoded());
  }

  static List<Block> decode(String text) {
    List<Block> blocks = new ArrayList<>();
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      blocks.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
    }
    return blocks;
  }

  public static List<X509Certificate> parseCertificates(byte[] pem) throws GeneralSecurityException {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    List<X509Certificate> certs = new ArrayList<>();
    for (Block b : decode(new String(pem, StandardCharsets.US_ASCII))) {
      if (b.type().equals("CERTIFICATE")) {
        certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
      }
    }
    if (certs.isEmpty()) throw new CertificateException("no PEM CERTIFICATE block found");
    return certs;
  }

  public static PrivateKey parsePrivateKey(byte[] pem) throws GeneralSecurityException {
    for (Block b : decode(new String(pem, StandardCharsets.US_ASCII))) {
      switch (b.type()) {
        case "PRIVATE KEY" -> {
          return pkcs8(b.der());
        }
        case "EC PRIVATE KEY", "RSA PRIVATE KEY" -> {
          return LegacyKeys.parse(pem);
        }
        default -> {}
      }
    }
    throw new InvalidKeySpecException("no PEM private key block found");
  }

  private static PrivateKey pkcs8(byte[] der) throws GeneralSecurityException {
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    // The JDK cannot tell the algorithm from the spec on Java 21, so try the ones Kubernetes uses.
    GeneralSecurityException last = null;
    for (String alg : new String[] {"EC", "RSA", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(spec);
      } catch (InvalidKeySpecException e) {
        last = e;
      }
    }
    throw last;
  }

  /** Isolated so that BouncyCastle's PEM classes are loaded only for keys in legacy formats. */
  private static final class LegacyKeys {
    static PrivateKey parse(byte[] pem) throws GeneralSecurityException {
      try (var parser = new org.bouncycastle.openssl.PEMParser(
          new java.io.StringReader(new String(pem, StandardCharsets.US_ASCII)))) {
        Object o;
        while ((o = parser.readObject()) != null) {
          var conv = new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter();
          if (o instanceof org.bouncycastle.openssl.PEMKeyPair kp) return conv.getPrivateKey(kp.getPrivateKeyInfo());
          if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo pki) return conv.getPrivateKey(pki);
        }
      } catch (java.io.IOException e) {
        throw new InvalidKeySpecException("cannot parse PEM private key", e);
      }
      throw new InvalidKeySpecException("no private key in PEM");
    }
  }
}
