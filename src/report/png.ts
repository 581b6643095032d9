import { crc32, deflateSync } from 'node:zlib';

/**
 * A grayscale image as a PNG data URI, for the report's inline images (no file, nothing fetched).
 * Pixels are row-major in [0, 1] after dividing by the image's largest pixel (real images reach
 * the report scaled to unit norm); 0 is drawn white and 1 black, as ink on paper.
 */
export function grayPngDataUri(pixels: ArrayLike<number>, width: number, height: number): string {
  if (pixels.length !== width * height) throw new RangeError(`${pixels.length} pixels are not a ${width}×${height} image`);
  let top = 0;
  for (let i = 0; i < pixels.length; i++) top = Math.max(top, pixels[i]);
  // one filter byte (0: none) before each row
  const raw = Buffer.alloc((width + 1) * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = top > 0 ? Math.min(1, Math.max(0, pixels[r * width + c] / top)) : 0;
      raw[r * (width + 1) + 1 + c] = Math.round(255 * (1 - v));
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString('base64')}`;
}
