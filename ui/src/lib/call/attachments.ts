// What the chat accepts as an attachment: images and PDF up to 10 MB (Twilio's Conversations media
// limit is larger, but a consultation has no use for more, and a phone on mobile data pays for it).

export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
export const ACCEPTED_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'application/pdf'];
/** For the file input's `accept`. */
export const ACCEPT_ATTRIBUTE = ACCEPTED_TYPES.join(',');

export const isImage = (type: string) => type.startsWith('image/');
export const isPdf = (type: string) => type === 'application/pdf';

/** "2.4 MB", "830 kB", "12 bytes". */
export function fileSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
}

/** Null when the file can be sent; otherwise the sentence that says why not. */
export function attachmentProblem(file: { name: string; type: string; size: number }): string | null {
  if (!ACCEPTED_TYPES.includes(file.type)) {
    return `“${file.name}” cannot be sent: only images (JPEG, PNG, GIF, WebP, HEIC) and PDF files can be attached.`;
  }
  if (file.size > MAX_ATTACHMENT_BYTES) {
    return `“${file.name}” is ${fileSize(file.size)}; files up to 10 MB can be sent. Make it smaller (a photo at a lower resolution, or a PDF of fewer pages) and try again.`;
  }
  if (file.size === 0) return `“${file.name}” is empty.`;
  return null;
}
