/// Deterministic zip archives: entries sorted by path, stored (not compressed), fixed
/// timestamps and permissions. The same files always give the same bytes, so an
/// archive's hash is its content's hash and uploads are content-addressed.
public enum ZipArchive {
    /// Paths use `/`; file mode 0644 (0755 when `executable`).
    public struct Entry: Sendable {
        public var path: String
        public var bytes: [UInt8]
        public var executable: Bool
        public init(path: String, bytes: [UInt8], executable: Bool = false) {
            self.path = path
            self.bytes = bytes
            self.executable = executable
        }
    }

    public static func make(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        let sorted = entries.sorted { $0.path < $1.path }
        // 1980-01-01 00:00: the earliest time a zip can hold.
        let time: UInt16 = 0, date: UInt16 = (0 << 9) | (1 << 5) | 1
        for entry in sorted {
            let name = Array(entry.path.utf8)
            let crc = crc32(entry.bytes)
            let offset = UInt32(out.count)
            out += le32(0x0403_4b50) + le16(20) + le16(0x0800) + le16(0) + le16(time) + le16(date)
            out += le32(crc) + le32(UInt32(entry.bytes.count)) + le32(UInt32(entry.bytes.count)) + le16(UInt16(name.count)) + le16(0)
            out += name
            out += entry.bytes
            let mode: UInt32 = entry.executable ? 0o100755 : 0o100644
            central += le32(0x0201_4b50) + le16(0x031E) + le16(20) + le16(0x0800) + le16(0) + le16(time) + le16(date)
            central += le32(crc) + le32(UInt32(entry.bytes.count)) + le32(UInt32(entry.bytes.count))
            central += le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(mode << 16) + le32(offset)
            central += name
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(sorted.count)) + le16(UInt16(sorted.count))
        out += le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return out
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)] }

    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
