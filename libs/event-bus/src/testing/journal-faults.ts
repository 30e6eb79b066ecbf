/**
 * Fault injection for the file log's journal: reproduces on disk what a crash in the middle of a write leaves
 * behind, so tests can check recovery without killing processes.
 */
import { promises as fs } from 'node:fs';
import { FRAME_HEADER_BYTES, listSegments, scanFrames } from '@zoom-pipeline/file-journal';

/**
 * Cuts the last frame of the newest segment in half (a write torn by a crash). Returns how many bytes of the
 * frame are left. The log must not be open.
 */
export async function tearLastJournalFrame(dir: string): Promise<number> {
  const segments = await listSegments(dir);
  const segment = segments.at(-1);
  if (!segment) throw new Error(`no journal segment in ${dir}`);
  const { frames } = scanFrames(await fs.readFile(segment.path));
  const last = frames.at(-1);
  if (!last) throw new Error(`no complete frame in ${segment.path}`);
  const frameBytes = FRAME_HEADER_BYTES + last.payload.length;
  const keep = Math.max(1, Math.floor(frameBytes / 2));
  await fs.truncate(segment.path, last.position + keep);
  return keep;
}

/** Appends garbage after the last frame (a header whose payload never made it to disk). */
export async function appendTornHeader(dir: string): Promise<void> {
  const segments = await listSegments(dir);
  const segment = segments.at(-1);
  if (!segment) throw new Error(`no journal segment in ${dir}`);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(4096, 0);
  header.writeUInt32BE(0xdeadbeef, 4);
  await fs.appendFile(segment.path, Buffer.concat([header, Buffer.from('partial')]));
}
