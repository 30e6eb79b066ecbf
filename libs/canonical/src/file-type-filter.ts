/**
 * The `UPLOAD_FILE_TYPES` filter (SPEC §4): a comma-separated list of Zoom `file_type`s (`MP4,M4A,TRANSCRIPT`),
 * compared case-insensitively; blank entries are ignored, and an unset or empty list stores every type. Zoom's
 * set of file types is open (docs/ZOOM-FACTS.md §4.1), so unknown names are accepted rather than refused.
 */
export function uploadFileTypeFilter(spec: string | undefined): (fileType: string) => boolean {
  const wanted = new Set(
    (spec ?? '')
      .split(',')
      .map((t) => t.trim().toUpperCase())
      .filter((t) => t !== ''),
  );
  if (wanted.size === 0) return () => true;
  return (fileType) => wanted.has(fileType.trim().toUpperCase());
}
