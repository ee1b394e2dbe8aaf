package dev.skiff.apiserver.table;

import java.time.Duration;

/**
 * Port of apimachinery {@code pkg/util/duration/duration.go}. kubectl's AGE column and every
 * server-side printer use {@link #format}; it keeps two to three significant figures ("2m3s" up
 * to ten minutes, "3h5m" up to eight hours, "3d4h" up to eight days, "2y30d" up to eight years).
 */
public final class HumanDuration {

  private HumanDuration() {}

  /** {@code duration.HumanDuration}. */
  public static String format(Duration d) {
    long seconds = truncatedSeconds(d);
    // Up to a second in the future is tolerated as clock skew ("almost now").
    if (seconds < -1) {
      return "<invalid>";
    } else if (seconds < 0) {
      return "0s";
    } else if (seconds < 60 * 2) {
      return seconds + "s";
    }
    long minutes = seconds / 60;
    if (minutes < 10) {
      long s = seconds % 60;
      return s == 0 ? minutes + "m" : minutes + "m" + s + "s";
    } else if (minutes < 60 * 3) {
      return minutes + "m";
    }
    long hours = seconds / 3600;
    if (hours < 8) {
      long m = minutes % 60;
      return m == 0 ? hours + "h" : hours + "h" + m + "m";
    } else if (hours < 48) {
      return hours + "h";
    } else if (hours < 24 * 8) {
      long h = hours % 24;
      return h == 0 ? (hours / 24) + "d" : (hours / 24) + "d" + h + "h";
    } else if (hours < 24 * 365 * 2) {
      return (hours / 24) + "d";
    } else if (hours < 24 * 365 * 8) {
      long dy = (hours / 24) % 365;
      return dy == 0 ? (hours / 24 / 365) + "y" : (hours / 24 / 365) + "y" + dy + "d";
    }
    return (hours / 24 / 365) + "y";
  }

  /** {@code duration.ShortHumanDuration}: one unit only ("5m", "3d"). */
  public static String formatShort(Duration d) {
    long seconds = truncatedSeconds(d);
    if (seconds < -1) {
      return "<invalid>";
    } else if (seconds < 0) {
      return "0s";
    } else if (seconds < 60) {
      return seconds + "s";
    } else if (seconds / 60 < 60) {
      return (seconds / 60) + "m";
    }
    long hours = seconds / 3600;
    if (hours < 24) {
      return hours + "h";
    } else if (hours < 24 * 365) {
      return (hours / 24) + "d";
    }
    return (hours / 24 / 365) + "y";
  }

  /** Go's {@code int(d.Seconds())} truncates toward zero; {@link Duration#getSeconds} floors. */
  private static long truncatedSeconds(Duration d) {
    long s = d.getSeconds();
    if (s < 0 && d.getNano() > 0) {
      s += 1;
    }
    return s;
  }
}
