package dev.skiff.runtime;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.StandardHttpHeaders;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;


/**
 * One in-JVM request: the server side writes into it ({@link InProcessApi.Response}) and fabric8
 * reads from it ({@link AsyncBody}). The server's writer blocks until fabric8 asks for more
 * ({@link #consume}), so a slow consumer slows the server's stream as a full TCP window would;
 * body chunks are copied, because the server reuses its buffers. The consumer runs on the
 * server's request thread (a virtual thread).
 */
final class InProcessCall implements InProcessApi.Response, AsyncBody {
  final CompletableFuture<HttpResponse<AsyncBody>> response = new CompletableFuture<>();
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private final HttpRequest request;
  private final AsyncBody.Consumer<List<ByteBuffer>> consumer;
  private final java.util.function.Consumer<InProcessCall> finished;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wanted = lock.newCondition();
  private final List<Runnable> cancelHooks = new ArrayList<>();
  private long demand;
  private volatile boolean cancelled;

  InProcessCall(HttpRequest request, AsyncBody.Consumer<List<ByteBuffer>> consumer,
      java.util.function.Consumer<InProcessCall> finished) {
    this.request = request;
    this.consumer = consumer;
    this.finished = finished;
  }

  // --- server side ---

  @Override
  public void head(int status, Map<String, List<String>> headers) {
    if (!response.complete(new Head(status, headers, request, this))) {
      // timed out (or cancelled) before the head: nobody reads this body
      cancel();
    }
  }

  @Override
  public void write(ByteBuffer chunk) throws IOException {
    if (!chunk.hasRemaining()) {
      return;
    }
    ByteBuffer copy = ByteBuffer.allocate(chunk.remaining()).put(chunk).flip();
    lock.lock();
    try {
      while (demand == 0 && !cancelled) {
        wanted.await();
      }
      if (cancelled) {
        throw new IOException("cancelled by the client");
      }
      demand--;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while the client had no demand");
    } finally {
      lock.unlock();
    }
    try {
      consumer.consume(List.of(copy), this);
    } catch (Exception e) {
      // the consumer failed: the body is over for fabric8, and the server should stop writing
      done.completeExceptionally(e);
      markCancelled();
      throw new IOException("the client's body consumer failed", e);
    }
  }

  @Override
  public void end() {
    if (!response.isDone()) {
      response.completeExceptionally(new IOException("the server sent no response"));
    }
    done.complete(null);
    finished.accept(this);
  }

  @Override
  public void fail(Throwable cause) {
    IOException e = cause instanceof IOException io ? io : new IOException(cause.toString(), cause);
    response.completeExceptionally(e);
    done.completeExceptionally(e);
    finished.accept(this);
  }

  @Override
  public void onCancel(Runnable r) {
    lock.lock();
    try {
      if (!cancelled) {
        cancelHooks.add(r);
        return;
      }
    } finally {
      lock.unlock();
    }
    r.run();
  }

  @Override
  public boolean isCancelled() {
    return cancelled;
  }

  // --- fabric8 side ---

  @Override
  public void consume() {
    lock.lock();
    try {
      demand++;
      wanted.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Void> done() {
    return done;
  }

  @Override
  public void cancel() {
    markCancelled();
    done.cancel(false);
    response.completeExceptionally(new CancellationException("cancelled"));
    finished.accept(this);
  }

  private void markCancelled() {
    List<Runnable> hooks;
    lock.lock();
    try {
      if (cancelled) {
        return;
      }
      cancelled = true;
      wanted.signalAll();
      hooks = List.copyOf(cancelHooks);
      cancelHooks.clear();
    } finally {
      lock.unlock();
    }
    for (Runnable r : hooks) {
      try {
        r.run();
      } catch (RuntimeException e) {
        // a server-side hook failing must not break the client's close
      }
    }
  }

  /** The response head fabric8 sees. */
  private static final class Head extends StandardHttpHeaders implements HttpResponse<AsyncBody> {
    private final int code;
    private final HttpRequest request;
    private final AsyncBody body;

    Head(int code, Map<String, List<String>> headers, HttpRequest request, AsyncBody body) {
      super(headers);
      this.code = code;
      this.request = request;
      this.body = body;
    }

    @Override
    public int code() {
      return code;
    }

    @Override
    public AsyncBody body() {
      return body;
    }

    @Override
    public HttpRequest request() {
      return request;
    }

    @Override
    public Optional<HttpResponse<?>> previousResponse() {
      return Optional.empty();
    }
  }
}
