// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the raw tensor data.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dense float32 tensor, row-major.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(Tensor.elementCount(shape) == data.count,
                     "Tensor: shape \(shape) does not hold \(data.count) elements")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        guard let count = Tensor.elementCount(shape) else { preconditionFailure("Tensor: invalid shape \(shape)") }
        self.init(shape: shape, data: [Float](repeating: 0, count: count))
    }

    public var count: Int { data.count }

    /// The product of the dimensions; nil if one is negative or the product overflows Int.
    public static func elementCount(_ shape: [Int]) -> Int? {
        guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
        if shape.contains(0) { return 0 }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }
}

/// The element types this reader accepts; all are converted to Float on load.
public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var size: Int { self == .f32 ? 4 : 2 }
}

/// A problem with a safetensors file (or any file read or written here), naming the file.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// The contents of a safetensors file.
public struct SafeTensors: Sendable, Equatable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]
    /// The dtype each tensor had in the file (all are converted to Float on load); F32 for tensors built in memory.
    public var dtypes: [String: DType]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
        self.dtypes = tensors.mapValues { _ in .f32 }
    }

    /// Reads a file and parses it.
    public static func read(path: String) throws -> SafeTensors {
        try parse(readBytes(path: path), path: path)
    }

    /// Parses a file's bytes; `path` is only used in error messages. Never traps on malformed input.
    public static func parse(_ bytes: [UInt8], path: String) throws -> SafeTensors {
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError(path: path, message: message) }

        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) exceeds file size \(bytes.count) - 8")
        }
        let headerEnd = 8 + Int(headerLength)
        let header = bytes[8..<headerEnd]
        let dataSize = bytes.count - headerEnd

        // UTF-8 first, so the message can say where it breaks.
        var decoder = UTF8(), iterator = header.makeIterator(), offset = 0
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: break decoding
            case .error: throw fail("header is not valid UTF-8 (bad byte 0x\(String(header[header.startIndex + offset], radix: 16)) at header offset \(offset))")
            }
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw fail("header is not valid JSON: \(reason)")
        }
        guard let object = json as? [String: Any] else {
            throw fail("header must be a JSON object, found \(describe(json))")
        }

        var result = SafeTensors()
        if let meta = object["__metadata__"], !(meta is NSNull) {
            guard let dict = meta as? [String: Any] else {
                throw fail("__metadata__ must be an object of strings, found \(describe(meta))")
            }
            for key in dict.keys.sorted() {
                guard let value = dict[key] as? String else {
                    throw fail("__metadata__ '\(key)' must be a string, found \(describe(dict[key]))")
                }
                result.metadata[key] = value
            }
        }

        // Validate every entry before touching the data.
        struct Entry { var key: String, dtype: DType, shape: [Int], count: Int, begin: Int, end: Int }
        var entries: [Entry] = []
        for key in object.keys.sorted(by: byteOrder) where key != "__metadata__" {
            let name = "tensor '\(key)'"
            guard let info = object[key] as? [String: Any] else {
                throw fail("\(name) must be an object with dtype, shape and data_offsets, found \(describe(object[key]))")
            }
            for field in ["dtype", "shape", "data_offsets"] where info[field] == nil {
                throw fail("\(name) is missing '\(field)' (has \(info.keys.sorted()))")
            }
            guard let dtypeName = info["dtype"] as? String else {
                throw fail("\(name): dtype must be a string, found \(describe(info["dtype"]))")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("\(name): dtype \(dtypeName) is not supported (expected F32, F16 or BF16)")
            }
            let shape = try integers(info["shape"], field: "shape", of: name, fail: fail)
            let offsets = try integers(info["data_offsets"], field: "data_offsets", of: name, fail: fail)
            guard offsets.count == 2 else {
                throw fail("\(name): data_offsets must be [begin, end], found \(offsets.count) numbers \(offsets)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw fail("\(name): data_offsets \(offsets) end before they begin")
            }
            guard end <= dataSize else {
                throw fail("\(name): data_offsets \(offsets) run past the end of the data section (\(dataSize) bytes)")
            }
            guard let count = Tensor.elementCount(shape) else {
                throw fail("\(name): shape \(shape) has too many elements (the product overflows Int)")
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, needed == end - begin else {
                let need = overflow ? "more than \(Int.max)" : "\(needed)"
                throw fail("\(name): shape \(shape) of \(dtypeName) needs \(need) bytes, data_offsets give \(end - begin)")
            }
            entries.append(Entry(key: key, dtype: dtype, shape: shape, count: count, begin: begin, end: end))
        }

        // Overlaps: sorted by start, each non-empty range must begin at or after the furthest end so far.
        var furthest: Entry?
        for entry in entries.filter({ $0.begin < $0.end }).sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if let previous = furthest, entry.begin < previous.end {
                throw fail("tensors '\(previous.key)' and '\(entry.key)' overlap: bytes [\(previous.begin), \(previous.end)) and [\(entry.begin), \(entry.end))")
            }
            if entry.end > (furthest?.end ?? 0) { furthest = entry }
        }

        bytes.withUnsafeBytes { raw in
            for e in entries {
                let base = headerEnd + e.begin
                let data: [Float] = (0..<e.count).map { i in
                    switch e.dtype {
                    case .f32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    case .f16: return floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self)))
                    case .bf16: return floatFromBFloat16(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self)))
                    }
                }
                result.tensors[e.key] = Tensor(shape: e.shape, data: data)
                result.dtypes[e.key] = e.dtype
            }
        }
        return result
    }

    /// The file's bytes: F32 tensors laid out contiguously in sorted key order, `__metadata__` first
    /// (omitted when empty), and the header padded with spaces so the data starts at a multiple of 8.
    public func serialized() -> [UInt8] {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.sorted { Self.byteOrder($0.key, $1.key) }.map { "\(Self.jsonString($0.key)):\(Self.jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        let sorted = tensors.sorted { Self.byteOrder($0.key, $1.key) }
        var offset = 0
        for (key, t) in sorted {
            let size = 4 * t.count
            parts.append("\(Self.jsonString(key)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out += $0 }
        out += headerBytes
        for (_, t) in sorted {
            for x in t.data {
                withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 }
            }
        }
        return out
    }

    /// Writes `serialized()` atomically (see `writeFileAtomically`).
    public func write(path: String) throws {
        try writeFileAtomically(serialized(), to: path)
    }
}

// MARK: - Conversions and helpers

extension SafeTensors {
    /// IEEE 754 binary16 to Float, exactly: subnormals, infinities and NaN payloads included.
    public static func floatFromHalf(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits >> 15) << 31
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F: return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)           // inf, NaN
        case 0:                                                                          // zero, subnormal
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        default: return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13) // rebias 15 -> 127
        }
    }

    /// bfloat16 is the top half of a float32.
    public static func floatFromBFloat16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Code-point order (UTF-8 byte order), as Python's sort_keys and Rust's BTreeMap give.
    fileprivate static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// A string as a JSON literal, escaped by JSONSerialization.
    fileprivate static func jsonString(_ s: String) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else {
            return "\"\"" // unreachable: every Swift string is valid JSON text
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON value's kind and a short rendering of it, for error messages.
    fileprivate static func describe(_ value: Any?) -> String {
        guard let value else { return "nothing" }
        switch value {
        case is NSNull: return "null"
        case let s as String: return "string \(jsonString(s.count > 40 ? s.prefix(40) + "..." : s))"
        case let n as NSNumber: return isBoolean(n) ? "boolean \(n.boolValue)" : "number \(n)"
        case let a as [Any]: return "an array of \(a.count)"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }

    /// JSON `true`/`false` arrive as NSNumbers that also convert to Int; tell them apart by their C type.
    fileprivate static func isBoolean(_ n: NSNumber) -> Bool {
        String(cString: n.objCType) == "c"
    }

    /// A JSON array of non-negative integers that fit in Int.
    fileprivate static func integers(_ value: Any?, field: String, of name: String,
                                      fail: (String) -> SafeTensorsError) throws -> [Int] {
        guard let array = value as? [Any] else {
            throw fail("\(name): \(field) must be an array of integers, found \(describe(value))")
        }
        return try array.enumerated().map { i, element in
            guard let n = element as? NSNumber, !isBoolean(n), let int = element as? Int else {
                throw fail("\(name): \(field)[\(i)] must be a non-negative integer, found \(describe(element))")
            }
            guard int >= 0 else {
                throw fail("\(name): \(field)[\(i)] is \(int), must be non-negative")
            }
            return int
        }
    }

    fileprivate static func osError(_ path: String, _ action: String, _ code: Int32 = errno) -> SafeTensorsError {
        SafeTensorsError(path: path, message: "\(action): \(String(cString: strerror(code)))")
    }

    /// A whole file's bytes; errors name the path and the OS reason.
    static func readBytes(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw osError(path, "cannot open for reading") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var info = stat()
        if fstat(fd, &info) == 0, info.st_size > 0 { bytes.reserveCapacity(Int(info.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw osError(path, "cannot read")
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}

/// Creates an empty temporary file beside `path` (same directory, unique name); returns its
/// name and an open descriptor. Errors name the path and the OS reason.
private func createTemporary(beside path: String) throws -> (name: String, fd: Int32) {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[...$0]) } ?? ""
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard !base.isEmpty else {
        throw SafeTensorsError(path: path, message: "cannot write: the path names a directory, not a file")
    }
    var temp = "", fd: Int32 = -1
    for _ in 0..<16 where fd < 0 {
        temp = "\(directory).\(base).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))"
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 && errno != EEXIST { break }
    }
    guard fd >= 0 else {
        let dir = directory.isEmpty ? "." : directory
        throw SafeTensors.osError(path, "cannot create a temporary file in directory '\(dir)'")
    }
    return (temp, fd)
}

/// Throws the error `writeFileAtomically(_:to:)` would for a directory that is missing or not
/// writable, without touching `path`: for commands that work a long time before they write.
public func checkCanWrite(_ path: String) throws {
    let (temp, fd) = try createTemporary(beside: path)
    close(fd)
    unlink(temp)
}

/// Writes `bytes` to a temporary file in the same directory as `path`, then renames it over `path`
/// (no fsync). Never leaves a half-written target: on error the target is untouched and the
/// temporary file removed. Errors name the path and the OS reason.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    let (temp, fd) = try createTemporary(beside: path)
    var written = 0
    var failure: SafeTensorsError?
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
        if n < 0 {
            if errno == EINTR { continue }
            failure = SafeTensors.osError(path, "cannot write temporary file '\(temp)'")
            break
        }
        written += n
    }
    if close(fd) != 0, failure == nil { failure = SafeTensors.osError(path, "cannot write temporary file '\(temp)'") }
    if failure == nil, rename(temp, path) != 0 { failure = SafeTensors.osError(path, "cannot rename '\(temp)' into place") }
    if let failure {
        unlink(temp)
        throw failure
    }
}
