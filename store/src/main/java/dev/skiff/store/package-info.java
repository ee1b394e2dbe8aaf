/**
 * The storage SPI ({@link dev.skiff.store.KeyValueStore}) and its implementations. Nothing above
 * the API server's registry may depend on this package (shared/DESIGN.md, "one rule").
 */
package dev.skiff.store;
