package dev.skiff.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The conformance suite against {@link LogStore}; file-specific behaviour is in LogStoreDurabilityTest. */
class LogStoreTest extends KeyValueStoreConformanceTest {
  @TempDir
  Path dir;

  @Override
  protected KeyValueStore newStore() {
    return LogStore.open(dir, 0);
  }
}
