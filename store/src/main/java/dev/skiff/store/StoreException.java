package dev.skiff.store;

/** The store could not do what was asked: I/O failure, closed store, lost connection. */
public class StoreException extends RuntimeException {
  public StoreException(String message) {
    super(message);
  }

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
