import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { DownloadError, describeNetworkError } from './download-error';

export interface HopTarget {
  url: URL;
  /** Normalised host name, used in error messages. */
  host: string;
  /** Checked addresses to connect to. Absent only for operator-configured URLs (the S2S token URL). */
  addresses?: ReadonlyArray<{ address: string; family: 4 | 6 }>;
}

export interface HopRequest {
  target: HopTarget;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  connectTimeoutMs: number;
  /** How long to wait for the response headers once connected. */
  headersTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * A `lookup` that answers with the addresses checked by checkHop and never asks DNS again. Node calls it
 * with `all: true` when autoSelectFamily is on (the default since Node 20), else expects one address.
 */
export function pinnedLookup(addresses: ReadonlyArray<{ address: string; family: 4 | 6 }>): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted =
      options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    if (wanted.length === 0) {
      const err: NodeJS.ErrnoException = new Error('no checked address for the requested family');
      err.code = 'ENOTFOUND';
      callback(err, '');
      return;
    }
    if (options.all === true)
      callback(
        null,
        wanted.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, wanted[0].address, wanted[0].family);
  };
}

/**
 * Options for one request: the URL's host name stays the name (Host header, TLS SNI and certificate
 * check) while the socket goes to the pinned address. `agent: false` gives every hop its own connection,
 * so no pooled socket opened for another hop or another resolution can be reused.
 */
export function buildRequestOptions(
  req: Pick<HopRequest, 'target' | 'method' | 'headers' | 'signal'>,
): RequestOptions & { servername?: string } {
  const { url, addresses } = req.target;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const options: RequestOptions & { servername?: string } = {
    protocol: url.protocol,
    hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: req.method,
    headers: req.headers,
    agent: false,
    signal: req.signal,
  };
  if (addresses !== undefined) options.lookup = pinnedLookup(addresses);
  // SNI must carry the name, never an IP (RFC 6066 forbids IP literals there).
  if (url.protocol === 'https:' && isIP(hostname) === 0) options.servername = hostname;
  return options;
}

export interface HopResponse {
  req: ClientRequest;
  res: IncomingMessage;
}

/**
 * Sends one request and resolves with the response head. Redirects are never followed here: the caller
 * checks every Location itself. Errors name the host and a reason, never the URL.
 */
export function sendHop(hop: HopRequest): Promise<HopResponse> {
  const { host } = hop.target;
  return new Promise<HopResponse>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: DownloadError): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const arm = (ms: number, reason: string): void => {
      if (settled) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => fail(new DownloadError('download_network', reason, { retryable: true, host })), ms);
    };

    const options = buildRequestOptions(hop);
    const req = hop.target.url.protocol === 'https:' ? httpsRequest(options) : httpRequest(options);

    arm(hop.connectTimeoutMs, `no connection within ${hop.connectTimeoutMs} ms`);
    req.once('socket', (socket: Socket) => {
      const connected = (): void => arm(hop.headersTimeoutMs, `no response within ${hop.headersTimeoutMs} ms`);
      if (!socket.connecting && !(socket instanceof TLSSocket)) connected();
      else socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', connected);
    });
    req.once('response', (res: IncomingMessage) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      if (timer) clearTimeout(timer);
      resolve({ req, res });
    });
    req.on('error', (err: Error) => {
      if (hop.signal?.aborted) {
        if (!settled) {
          settled = true;
          if (timer) clearTimeout(timer);
          reject(abortReason(hop.signal));
        }
        return;
      }
      fail(
        new DownloadError('download_network', `request failed (${describeNetworkError(err)})`, {
          retryable: true,
          host,
        }),
      );
    });
    req.end();
  });
}

/** The reason the caller aborted with, or a standard AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('the download was aborted');
  err.name = 'AbortError';
  return err;
}
