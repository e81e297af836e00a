// Just enough ELF reading to check a linux binary: its machine, the glibc
// symbol versions it needs (from .gnu.version_r), and which symbols it imports
// from which library (.dynsym + .gnu.version + .gnu.version_r), read straight
// from the bytes.
export interface ElfInfo {
  machine: number;
  /** every GLIBC_x.y version the binary needs */
  glibcVersions: string[];
  /** the highest of them, e.g. "2.29" */
  maxGlibc: string | null;
  /** undefined dynamic symbols, with the library and version they are bound to when versioned */
  imports: ElfImport[];
  /** the program interpreter (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2), or null for a static executable */
  interpreter: string | null;
}

export interface ElfImport {
  name: string;
  /** e.g. "libm.so.6" (from the symbol's version requirement), or null for an unversioned symbol */
  library: string | null;
  version: string | null;
}

const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_DYNSYM = 11;
const PT_INTERP = 3;

export function isElf(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === 0x7f454c46;
}

function cstring(buf: Buffer, offset: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('latin1', offset, end < 0 ? buf.length : end);
}

/** Compare glibc versions like "2.3.4" and "2.31" numerically. */
export function compareGlibc(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export function readElf(buf: Buffer): ElfInfo {
  if (!isElf(buf)) throw new Error('not an ELF file (bad magic)');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  if (buf.length < 64) throw new Error('truncated ELF header');
  const machine = buf.readUInt16LE(18);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  if (shoff + shnum * shentsize > buf.length) throw new Error('truncated ELF section headers');
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return {
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 24)),
      size: Number(buf.readBigUInt64LE(o + 32)),
      link: buf.readUInt32LE(o + 40),
      info: buf.readUInt32LE(o + 44),
    };
  });
  const versions = new Set<string>();
  /** version index (vna_other) -> the library and version name it stands for */
  const byIndex = new Map<number, { library: string; version: string }>();
  for (const s of sections.filter((x) => x.type === SHT_GNU_VERNEED)) {
    const strtab = sections[s.link];
    if (!strtab) throw new Error('ELF .gnu.version_r links to a missing string table');
    let vn = s.offset;
    for (let i = 0; i < s.info; i++) {
      const cnt = buf.readUInt16LE(vn + 2);
      const library = cstring(buf, strtab.offset + buf.readUInt32LE(vn + 4));
      let aux = vn + buf.readUInt32LE(vn + 8);
      for (let j = 0; j < cnt; j++) {
        const name = cstring(buf, strtab.offset + buf.readUInt32LE(aux + 8));
        byIndex.set(buf.readUInt16LE(aux + 6) & 0x7fff, { library, version: name });
        const m = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name);
        if (m) versions.add(m[1]);
        const next = buf.readUInt32LE(aux + 12);
        if (!next) break;
        aux += next;
      }
      const next = buf.readUInt32LE(vn + 12);
      if (!next) break;
      vn += next;
    }
  }
  const imports: ElfImport[] = [];
  const dynsym = sections.find((x) => x.type === SHT_DYNSYM);
  const versym = sections.find((x) => x.type === SHT_GNU_VERSYM);
  if (dynsym) {
    const strtab = sections[dynsym.link];
    if (!strtab) throw new Error('ELF .dynsym links to a missing string table');
    for (let i = 1; i < dynsym.size / 24; i++) {
      const o = dynsym.offset + i * 24;
      if (buf.readUInt16LE(o + 6) !== 0) continue; // defined here: not an import
      const name = cstring(buf, strtab.offset + buf.readUInt32LE(o));
      if (!name) continue;
      const v = versym ? byIndex.get(buf.readUInt16LE(versym.offset + i * 2) & 0x7fff) : undefined;
      imports.push({ name, library: v?.library ?? null, version: v?.version ?? null });
    }
  }
  let interpreter: string | null = null;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  for (let i = 0; i < buf.readUInt16LE(0x38) && phoff + (i + 1) * phentsize <= buf.length; i++) {
    const o = phoff + i * phentsize;
    if (buf.readUInt32LE(o) === PT_INTERP) interpreter = cstring(buf, Number(buf.readBigUInt64LE(o + 8)));
  }
  const glibcVersions = [...versions].sort(compareGlibc);
  return { machine, glibcVersions, maxGlibc: glibcVersions.at(-1) ?? null, imports, interpreter };
}
