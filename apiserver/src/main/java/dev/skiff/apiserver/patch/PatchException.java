package dev.skiff.apiserver.patch;

/**
 * A patch could not be decoded or applied. The {@link Kind} tells the API server which
 * {@code metav1.Status} kube-apiserver would send for the same failure, so it can be reproduced
 * without knowing the patch library's internals.
 *
 * <p>How kube-apiserver classifies patch failures ({@code apiserver pkg/endpoints/handlers/patch.go},
 * tag 1.32):
 * <ul>
 *   <li><b>Undecodable patch body</b> (not JSON, wrong top-level shape): {@code errors.NewBadRequest}
 *       → 400, reason {@code BadRequest}, message = the decode error. Also the strategic-merge errors
 *       listed in {@code interpretStrategicMergePatchError} as malformed
 *       ({@code ErrBadPatchFormatForPrimitiveList}, {@code …ForRetainKeys},
 *       {@code …ForSetElementOrderList}), and JSON merge patch's {@code ErrBadJSONPatch}.</li>
 *   <li><b>JSON patch that does not apply</b> (missing path, failed {@code test}, bad index, unknown
 *       op): {@code errors.NewGenericServerResponse(http.StatusUnprocessableEntity, …)} → 422, reason
 *       {@code Invalid}, and — because that helper only keeps the server message for unexpected
 *       responses — the Status message is the fixed text
 *       {@value #GENERIC_UNPROCESSABLE_MESSAGE}; evanphx/json-patch's own text (e.g.
 *       {@code testing value /metadata/resourceVersion failed: test failed}) is not sent. kubectl
 *       prints {@code The request is invalid: the server rejected our request due to an error in our
 *       request}. The same 422 is used for SMP's {@code ErrNoListOfLists}.</li>
 *   <li><b>More than 10 000 JSON patch operations</b>: {@code errors.NewRequestEntityTooLargeError}
 *       → 413, reason {@code RequestEntityTooLarge}, message
 *       {@code Request entity too large: The allowed maximum operations in a JSON patch is 10000, got N}.</li>
 *   <li><b>Any other strategic merge patch error</b> (missing merge key, {@code $patch: merge}, unknown
 *       directive, mixed element types…): {@code interpretStrategicMergePatchError} returns the plain Go
 *       error, which {@code responsewriters.ErrorToAPIStatus} turns into 500 with an empty reason
 *       (StatusReasonUnknown) and the error text as message. We reproduce that as {@link Kind#INTERNAL}
 *       rather than invent a nicer code, because clients (and kubectl's output) see exactly that.</li>
 * </ul>
 * A JSON patch {@code test} failure is therefore 422 Invalid, not 409 Conflict; the 409 for a stale
 * {@code metadata.resourceVersion} after a patch is the storage layer's job, not this package's.
 */
public final class PatchException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The Status message kube-apiserver sends with every 422 built by NewGenericServerResponse. */
    public static final String GENERIC_UNPROCESSABLE_MESSAGE =
            "the server rejected our request due to an error in our request";

    /** The HTTP code and Status reason kube-apiserver uses for a class of patch failure. */
    public enum Kind {
        /** 400 BadRequest: the patch document is malformed. */
        BAD_REQUEST(400, "BadRequest"),
        /** 422 Invalid with the generic message: the patch is well-formed but does not apply. */
        INVALID(422, "Invalid"),
        /** 413 RequestEntityTooLarge: too many JSON patch operations. */
        REQUEST_ENTITY_TOO_LARGE(413, "RequestEntityTooLarge"),
        /** 500 with empty reason: upstream passes the raw error through. */
        INTERNAL(500, "");

        private final int code;
        private final String reason;

        Kind(int code, String reason) {
            this.code = code;
            this.reason = reason;
        }

        /** HTTP status code. */
        public int code() {
            return code;
        }

        /** {@code metav1.Status.reason}; empty for StatusReasonUnknown. */
        public String reason() {
            return reason;
        }
    }

    private final Kind kind;

    /**
     * @param kind how kube-apiserver would classify the failure
     * @param message the library-level message (evanphx/json-patch or apimachinery wording)
     */
    public PatchException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** HTTP status code for the Status response. */
    public int code() {
        return kind.code();
    }

    /** {@code metav1.Status.reason}; empty string means StatusReasonUnknown. */
    public String reason() {
        return kind.reason();
    }

    /** True when the patch body itself is malformed (400). */
    public boolean isBadRequest() {
        return kind == Kind.BAD_REQUEST;
    }

    /**
     * The {@code metav1.Status.message} kube-apiserver would send. It differs from
     * {@link #getMessage()} for 422 (fixed generic text) and 413 (prefixed).
     */
    public String statusMessage() {
        return switch (kind) {
            case INVALID -> GENERIC_UNPROCESSABLE_MESSAGE;
            case REQUEST_ENTITY_TOO_LARGE -> "Request entity too large: " + getMessage();
            default -> getMessage();
        };
    }

    static PatchException badRequest(String message) {
        return new PatchException(Kind.BAD_REQUEST, message);
    }

    static PatchException invalid(String message) {
        return new PatchException(Kind.INVALID, message);
    }

    static PatchException internal(String message) {
        return new PatchException(Kind.INTERNAL, message);
    }
}
