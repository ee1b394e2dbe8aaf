package dev.skiff.scheduler;

/** Score helpers (upstream {@code plugins/helper/normalize_score.go}). */
final class Scores {
  static final long MAX = 100;

  private Scores() {}

  /** Scales scores so the highest is 100; reversed maps the highest to 0 instead. */
  static void normalize(long[] scores, boolean reverse) {
    long max = 0;
    for (long s : scores) {
      max = Math.max(max, s);
    }
    if (max == 0) {
      if (reverse) {
        java.util.Arrays.fill(scores, MAX);
      }
      return;
    }
    for (int i = 0; i < scores.length; i++) {
      long s = MAX * scores[i] / max;
      scores[i] = reverse ? MAX - s : s;
    }
  }
}
