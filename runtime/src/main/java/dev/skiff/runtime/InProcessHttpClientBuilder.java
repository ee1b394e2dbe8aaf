package dev.skiff.runtime;

import io.fabric8.kubernetes.client.http.StandardHttpClientBuilder;
import java.util.concurrent.atomic.AtomicBoolean;

/** Builds {@link InProcessHttpClient}s; a derived client shares its parent's state (as vert.x's does). */
final class InProcessHttpClientBuilder
    extends StandardHttpClientBuilder<InProcessHttpClient, InProcessHttpClientFactory, InProcessHttpClientBuilder> {

  InProcessHttpClientBuilder(InProcessHttpClientFactory factory) {
    super(factory);
  }

  @Override
  public InProcessHttpClient build() {
    if (client != null) {
      return new InProcessHttpClient(this, client.getClosed(), client.shared());
    }
    return new InProcessHttpClient(this, new AtomicBoolean(), new InProcessHttpClient.Shared(clientFactory, this));
  }

  @Override
  protected InProcessHttpClientBuilder newInstance(InProcessHttpClientFactory factory) {
    return new InProcessHttpClientBuilder(factory);
  }
}
