package dev.skiff.apiserver.admission;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * A resource.Quantity reduced to what admission needs: its exact value and a canonical string
 * (apimachinery pkg/api/resource/quantity.go: binary suffixes stay binary, decimal values print
 * with the largest exact decimal suffix, e.g. 0.5 cpu as "500m").
 */
public record Quantity(BigDecimal value, boolean binary) implements Comparable<Quantity> {
  public static final Quantity ZERO = new Quantity(BigDecimal.ZERO, false);

  public static Quantity parse(String s) {
    s = s.trim();
    int end = s.length();
    while (end > 0 && Character.isLetter(s.charAt(end - 1))) {
      end--;
    }
    String num = s.substring(0, end);
    String suffix = s.substring(end);
    if (num.isEmpty()) {
      throw new IllegalArgumentException("quantities must match the regular expression");
    }
    // "1e3" and "1E3": exponent forms arrive here with the letter inside num or as suffix "e3"
    if (num.contains("e") || num.contains("E")) {
      return new Quantity(new BigDecimal(num), false);
    }
    BigDecimal v = new BigDecimal(num);
    boolean binary = suffix.endsWith("i");
    BigDecimal mult = switch (suffix) {
      case "" -> BigDecimal.ONE;
      case "n" -> new BigDecimal("1e-9");
      case "u" -> new BigDecimal("1e-6");
      case "m" -> new BigDecimal("1e-3");
      case "k" -> new BigDecimal("1e3");
      case "M" -> new BigDecimal("1e6");
      case "G" -> new BigDecimal("1e9");
      case "T" -> new BigDecimal("1e12");
      case "P" -> new BigDecimal("1e15");
      case "E" -> new BigDecimal("1e18");
      case "Ki" -> new BigDecimal(BigInteger.TWO.pow(10));
      case "Mi" -> new BigDecimal(BigInteger.TWO.pow(20));
      case "Gi" -> new BigDecimal(BigInteger.TWO.pow(30));
      case "Ti" -> new BigDecimal(BigInteger.TWO.pow(40));
      case "Pi" -> new BigDecimal(BigInteger.TWO.pow(50));
      case "Ei" -> new BigDecimal(BigInteger.TWO.pow(60));
      default -> throw new IllegalArgumentException("unable to parse quantity's suffix");
    };
    return new Quantity(v.multiply(mult), binary);
  }

  public Quantity add(Quantity o) {
    return new Quantity(value.add(o.value), binary || o.binary);
  }

  @Override
  public int compareTo(Quantity o) {
    return value.compareTo(o.value);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Quantity q && q.value.compareTo(value) == 0;
  }

  @Override
  public int hashCode() {
    return value.stripTrailingZeros().hashCode();
  }

  @Override
  public String toString() {
    if (value.signum() == 0) {
      return "0";
    }
    if (binary) {
      String[] suffixes = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
      for (int i = 0; i < suffixes.length; i++) {
        BigDecimal unit = new BigDecimal(BigInteger.TWO.pow(10 * (6 - i)));
        BigDecimal[] qr = value.divideAndRemainder(unit);
        if (qr[1].signum() == 0 && qr[0].signum() != 0) {
          return qr[0].toBigInteger() + suffixes[i];
        }
      }
    }
    String[] suffixes = {"E", "P", "T", "G", "M", "k", "", "m", "u", "n"};
    int[] exps = {18, 15, 12, 9, 6, 3, 0, -3, -6, -9};
    for (int i = 0; i < suffixes.length; i++) {
      BigDecimal scaled = value.movePointLeft(exps[i]);
      if (scaled.stripTrailingZeros().scale() <= 0) {
        return scaled.toBigInteger() + suffixes[i];
      }
    }
    return value.toPlainString();
  }
}
