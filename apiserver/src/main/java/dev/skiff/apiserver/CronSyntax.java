package dev.skiff.apiserver;

import java.util.Set;

/**
 * Syntax check of a CronJob schedule as robfig/cron's ParseStandard accepts it: five fields
 * (minute hour day-of-month month day-of-week) of numbers, names, ranges, lists, steps, '*' and
 * '?', or one of the @-descriptors. An optional leading TZ= or CRON_TZ= is refused as upstream
 * does since 1.29.
 */
final class CronSyntax {
  private static final Set<String> DESCRIPTORS =
      Set.of("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly");
  private static final int[][] RANGES = {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}};
  private static final String[] MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  private static final String[] DAYS = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

  private CronSyntax() {}

  static boolean valid(String schedule) {
    String s = schedule.trim();
    if (DESCRIPTORS.contains(s.toLowerCase())) {
      return true;
    }
    if (s.startsWith("@every ")) {
      return s.length() > 7;
    }
    String[] fields = s.split("\\s+");
    if (fields.length != 5) {
      return false;
    }
    for (int i = 0; i < 5; i++) {
      if (!field(fields[i], i)) {
        return false;
      }
    }
    return true;
  }

  private static boolean field(String f, int index) {
    for (String part : f.split(",", -1)) {
      String range = part;
      int slash = part.indexOf('/');
      if (slash >= 0) {
        range = part.substring(0, slash);
        try {
          if (Integer.parseInt(part.substring(slash + 1)) <= 0) {
            return false;
          }
        } catch (NumberFormatException e) {
          return false;
        }
      }
      if (range.equals("*") || range.equals("?")) {
        continue;
      }
      String[] ends = range.split("-", -1);
      if (ends.length > 2) {
        return false;
      }
      int lo = value(ends[0], index);
      int hi = ends.length == 2 ? value(ends[1], index) : lo;
      if (lo < 0 || hi < 0 || lo > hi) {
        return false;
      }
    }
    return true;
  }

  private static int value(String v, int index) {
    String low = v.toLowerCase();
    String[] names = index == 3 ? MONTHS : index == 4 ? DAYS : null;
    if (names != null) {
      for (int i = 0; i < names.length; i++) {
        if (names[i].equals(low)) {
          return index == 3 ? i + 1 : i;
        }
      }
    }
    try {
      int n = Integer.parseInt(v);
      return n >= RANGES[index][0] && n <= RANGES[index][1] ? n : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
