package dev.skiff.store;

class MemoryStoreTest extends KeyValueStoreConformanceTest {
  @Override
  protected KeyValueStore newStore() {
    return new MemoryStore();
  }
}
