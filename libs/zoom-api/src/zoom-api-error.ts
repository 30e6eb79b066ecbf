export type ZoomApiErrorCode =
  'zoom_api_unauthorized' | 'zoom_api_rejected' | 'zoom_api_unavailable' | 'zoom_api_invalid_answer';

/**
 * A failed Zoom REST API call. The message names the endpoint template and the status only: never a URL with its
 * query (page tokens), never the access token, never Zoom's body (it may echo what we sent).
 */
export class ZoomApiError extends Error {
  constructor(
    readonly code: ZoomApiErrorCode,
    message: string,
    readonly details: { retryable: boolean; status?: number; endpoint?: string; zoomCode?: number } = {
      retryable: false,
    },
  ) {
    super(message);
    this.name = 'ZoomApiError';
  }

  get retryable(): boolean {
    return this.details.retryable;
  }
}
