package dev.skiff.controllers.batch;

import java.time.Duration;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;
import java.util.Locale;
import java.util.Map;

/**
 * A parsed CronJob schedule: the standard 5-field syntax of robfig/cron v3 {@code ParseStandard}
 * (minute hour day-of-month month day-of-week; {@code *}, {@code ?}, lists, ranges, steps, month
 * and weekday names) plus the macros {@code @yearly @annually @monthly @weekly @daily @midnight
 * @hourly} and {@code @every <duration>}. As in cron, when both day-of-month and day-of-week are
 * restricted a day matching either runs. Immutable and thread-safe.
 */
public final class CronSchedule {
  private static final Map<String, String> MACROS = Map.of(
      "@yearly", "0 0 1 1 *", "@annually", "0 0 1 1 *", "@monthly", "0 0 1 * *", "@weekly", "0 0 * * 0",
      "@daily", "0 0 * * *", "@midnight", "0 0 * * *", "@hourly", "0 * * * *");
  private static final String[] MONTHS = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
      "NOV", "DEC"};
  private static final String[] DAYS = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

  private final BitSet minutes;
  private final BitSet hours;
  private final BitSet doms;
  private final BitSet months;
  private final BitSet dows;
  private final boolean domStar;
  private final boolean dowStar;
  private final Duration every;

  private CronSchedule(BitSet minutes, BitSet hours, BitSet doms, BitSet months, BitSet dows, boolean domStar,
      boolean dowStar, Duration every) {
    this.minutes = minutes;
    this.hours = hours;
    this.doms = doms;
    this.months = months;
    this.dows = dows;
    this.domStar = domStar;
    this.dowStar = dowStar;
    this.every = every;
  }

  /** Parses {@code spec}; throws IllegalArgumentException with the reason if it is invalid. */
  public static CronSchedule parse(String spec) {
    String s = spec == null ? "" : spec.trim();
    if (s.startsWith("TZ=") || s.startsWith("CRON_TZ=")) {
      throw new IllegalArgumentException("TZ in schedule is not supported; use spec.timeZone");
    }
    if (s.startsWith("@every ")) {
      Duration d = parseGoDuration(s.substring(7).trim());
      if (d.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("@every duration must be at least 1s: " + s);
      }
      return new CronSchedule(null, null, null, null, null, true, true, d);
    }
    if (s.startsWith("@")) {
      String m = MACROS.get(s.toLowerCase(Locale.ROOT));
      if (m == null) {
        throw new IllegalArgumentException("unrecognized descriptor: " + s);
      }
      s = m;
    }
    String[] f = s.split("\\s+");
    if (f.length != 5) {
      throw new IllegalArgumentException("expected exactly 5 fields, found " + f.length + ": " + spec);
    }
    BitSet dow = field(f[4], 0, 7, DAYS);
    if (dow.get(7)) { // 7 is Sunday too
      dow.set(0);
      dow.clear(7);
    }
    return new CronSchedule(field(f[0], 0, 59, null), field(f[1], 0, 23, null), field(f[2], 1, 31, null),
        field(f[3], 1, 12, MONTHS), dow, isStar(f[2]), isStar(f[4]), null);
  }

  private static boolean isStar(String f) {
    return f.startsWith("*") || f.startsWith("?");
  }

  private static BitSet field(String text, int min, int max, String[] names) {
    BitSet bits = new BitSet();
    for (String part : text.split(",")) {
      String range = part;
      int step = 1;
      int slash = part.indexOf('/');
      if (slash >= 0) {
        range = part.substring(0, slash);
        step = number(part.substring(slash + 1), null, 0);
        if (step <= 0) {
          throw new IllegalArgumentException("step must be positive: " + part);
        }
      }
      int lo;
      int hi;
      if (range.equals("*") || range.equals("?")) {
        lo = min;
        hi = max;
      } else {
        int dash = range.indexOf('-');
        lo = number(dash < 0 ? range : range.substring(0, dash), names, names == MONTHS ? 1 : 0);
        hi = dash < 0 ? (slash >= 0 ? max : lo) : number(range.substring(dash + 1), names, names == MONTHS ? 1 : 0);
      }
      if (lo < min || hi > max || lo > hi) {
        throw new IllegalArgumentException("value out of range (" + min + "-" + max + "): " + part);
      }
      for (int i = lo; i <= hi; i += step) {
        bits.set(i);
      }
    }
    return bits;
  }

  private static int number(String s, String[] names, int base) {
    if (names != null) {
      for (int i = 0; i < names.length; i++) {
        if (names[i].equalsIgnoreCase(s)) {
          return i + base;
        }
      }
    }
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("failed to parse int from " + s);
    }
  }

  /** Go's time.ParseDuration for h/m/s/ms units, e.g. {@code 1h30m}, {@code 90s}. */
  static Duration parseGoDuration(String s) {
    Duration d = Duration.ZERO;
    var m = java.util.regex.Pattern.compile("(\\d+)(ms|h|m|s)").matcher(s);
    int pos = 0;
    while (m.find() && m.start() == pos) {
      long n = Long.parseLong(m.group(1));
      d = d.plus(switch (m.group(2)) {
        case "h" -> Duration.ofHours(n);
        case "m" -> Duration.ofMinutes(n);
        case "s" -> Duration.ofSeconds(n);
        default -> Duration.ofMillis(n);
      });
      pos = m.end();
    }
    if (pos != s.length() || s.isEmpty()) {
      throw new IllegalArgumentException("invalid duration: " + s);
    }
    return d;
  }

  /** The first activation strictly after {@code after} (in its zone); null if none within 5 years. */
  public ZonedDateTime next(ZonedDateTime after) {
    if (every != null) {
      // ConstantDelaySchedule: whole seconds after the given time.
      return after.truncatedTo(ChronoUnit.SECONDS).plus(every);
    }
    ZonedDateTime t = after.truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
    ZonedDateTime limit = t.plusYears(5);
    while (t.isBefore(limit)) {
      if (!months.get(t.getMonthValue())) {
        t = t.withDayOfMonth(1).truncatedTo(ChronoUnit.DAYS).plusMonths(1);
        continue;
      }
      if (!dayMatches(t)) {
        t = t.truncatedTo(ChronoUnit.DAYS).plusDays(1);
        continue;
      }
      if (!hours.get(t.getHour())) {
        t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
        continue;
      }
      if (!minutes.get(t.getMinute())) {
        t = t.plusMinutes(1);
        continue;
      }
      return t;
    }
    return null;
  }

  private boolean dayMatches(ZonedDateTime t) {
    boolean dom = doms.get(t.getDayOfMonth());
    boolean dow = dows.get(t.getDayOfWeek().getValue() % 7);
    if (domStar || dowStar) {
      return dom && dow;
    }
    return dom || dow;
  }

  /** Convenience: {@link #next(ZonedDateTime)} in {@code zone}. */
  public ZonedDateTime next(java.time.Instant after, ZoneId zone) {
    return next(after.atZone(zone));
  }
}
