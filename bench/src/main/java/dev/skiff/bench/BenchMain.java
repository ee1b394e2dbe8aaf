package dev.skiff.bench;

public final class BenchMain {
  public static void main(String[] args) {}
}
