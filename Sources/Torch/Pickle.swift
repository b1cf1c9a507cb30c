import Foundation

/// The subset of Python pickle (protocols 0–4) that PyTorch checkpoints use, enough to read
/// `torch.save` files without Python: dicts, lists, tuples, numbers, strings, globals, REDUCE/BUILD,
/// and persistent ids that name tensor storages.
///
/// Lists and dicts are reference objects so that memoised values shared between places stay shared,
/// as in Python.
enum PyValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PyValue])
    case list(PyList)
    case dict(PyDict)
    case global(module: String, name: String)
    /// A call Loupe does not model (REDUCE/NEWOBJ of an unknown class); kept for error messages.
    case object(callable: String)
    case storage(StorageRef)
    case tensor(TensorRef)
    case mark

    var asInt: Int? { if case .int(let v) = self { return v }; if case .bool(let b) = self { return b ? 1 : 0 }; return nil }
    var asString: String? { if case .string(let s) = self { return s }; return nil }
    var asTuple: [PyValue]? {
        if case .tuple(let t) = self { return t }
        if case .list(let l) = self { return l.items }
        return nil
    }
}

final class PyList { var items: [PyValue] = [] }
final class PyDict { var items: [(key: PyValue, value: PyValue)] = [] }

/// A storage named by a persistent id: its key in the archive and its element type.
struct StorageRef {
    let key: String
    let dtype: DType
    /// Element offset of a legacy view into a larger storage.
    var viewOffset: Int = 0
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`.
struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

struct PickleError: Error, CustomStringConvertible {
    let message: String
    var description: String { "checkpoint: \(message)" }
}

/// Reads one pickle from `bytes` starting at `position`; leaves `position` after its STOP opcode.
struct Unpickler {
    let bytes: [UInt8]
    var position: Int
    private var stack: [PyValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PyValue] = [:]

    init(bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else {
            throw PickleError(message: "truncated pickle at byte \(position) (wanted \(n) more)")
        }
        defer { position += n }
        return bytes[position ..< position + n]
    }

    private mutating func byte() throws -> UInt8 { try take(1).first! }

    private mutating func littleEndian(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw PickleError(message: "unterminated text line at byte \(position)")
        }
        let text = String(decoding: bytes[position ..< end], as: UTF8.self)
        position = end + 1
        return text
    }

    private mutating func pop() throws -> PyValue {
        guard let v = stack.popLast() else { throw PickleError(message: "stack underflow at byte \(position)") }
        return v
    }

    private mutating func popMark() throws -> [PyValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw PickleError(message: "MARK missing at byte \(position)")
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func string(_ count: Int) throws -> PyValue {
        .string(String(decoding: try take(count), as: UTF8.self))
    }

    /// Runs the pickle; `persistentLoad` resolves BINPERSID ids (PyTorch's storages).
    mutating func load(persistentLoad: (PyValue) throws -> PyValue) throws -> PyValue {
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try take(8)                                  // FRAME
            case 0x2E: return try pop()                                 // STOP
            case 0x28: marks.append(stack.count)                        // MARK
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x5D: stack.append(.list(PyList()))                    // EMPTY_LIST
            case 0x7D: stack.append(.dict(PyDict()))                    // EMPTY_DICT
            case 0x8F: stack.append(.list(PyList()))                    // EMPTY_SET
            case 0x74: stack.append(.tuple(try popMark()))              // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x6C: let l = PyList(); l.items = try popMark(); stack.append(.list(l))  // LIST
            case 0x64:                                                  // DICT
                let items = try popMark()
                let d = PyDict()
                for i in stride(from: 0, to: items.count - 1, by: 2) { d.items.append((items[i], items[i + 1])) }
                stack.append(.dict(d))
            case 0x61:                                                  // APPEND
                let v = try pop()
                guard case .list(let l)? = stack.last else { throw PickleError(message: "APPEND to a non-list") }
                l.items.append(v)
            case 0x65, 0x90:                                            // APPENDS, ADDITEMS
                let items = try popMark()
                guard case .list(let l)? = stack.last else { throw PickleError(message: "APPENDS to a non-list") }
                l.items.append(contentsOf: items)
            case 0x73:                                                  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d)? = stack.last else { throw PickleError(message: "SETITEM on a non-dict") }
                d.items.append((k, v))
            case 0x75:                                                  // SETITEMS
                let items = try popMark()
                guard case .dict(let d)? = stack.last else { throw PickleError(message: "SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count - 1, by: 2) { d.items.append((items[i], items[i + 1])) }
            case 0x4E: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))                        // NEWTRUE
            case 0x89: stack.append(.bool(false))                       // NEWFALSE
            case 0x4A: stack.append(.int(Int(Int32(bitPattern: UInt32(try littleEndian(4))))))  // BININT
            case 0x4B: stack.append(.int(Int(try byte())))              // BININT1
            case 0x4D: stack.append(.int(Int(try littleEndian(2))))     // BININT2
            case 0x8A, 0x8B:                                            // LONG1, LONG4
                let n = op == 0x8A ? Int(try byte()) : Int(try littleEndian(4))
                let digits = Array(try take(n))
                guard n <= 8 else { stack.append(.int(Int.max)); break }  // huge ints (legacy magic) only compared
                var v: UInt64 = 0
                for (i, b) in digits.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
                if n > 0, n < 8, digits[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                stack.append(.int(Int(bitPattern: UInt(v))))
            case 0x49:                                                  // INT (text)
                let text = try line()
                if text == "00" { stack.append(.bool(false)) } else if text == "01" { stack.append(.bool(true)) }
                else { stack.append(.int(Int(text) ?? 0)) }
            case 0x47:                                                  // BINFLOAT (big-endian)
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(try string(Int(try littleEndian(4))))  // BINUNICODE
            case 0x8C: stack.append(try string(Int(try byte())))           // SHORT_BINUNICODE
            case 0x8D: stack.append(try string(Int(try littleEndian(8))))  // BINUNICODE8
            case 0x54: stack.append(try string(Int(try littleEndian(4))))  // BINSTRING
            case 0x55: stack.append(try string(Int(try byte())))           // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(Int(try littleEndian(4))))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(Int(try byte())))))           // SHORT_BINBYTES
            case 0x63:                                                  // GLOBAL
                let module = try line(), name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93:                                                  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                stack.append(.global(module: module.asString ?? "", name: name.asString ?? ""))
            case 0x71: memo[Int(try byte())] = stack.last               // BINPUT
            case 0x72: memo[Int(try littleEndian(4))] = stack.last      // LONG_BINPUT
            case 0x70: memo[Int(try line()) ?? -1] = stack.last         // PUT
            case 0x94: memo[memo.count] = stack.last                    // MEMOIZE
            case 0x68, 0x6A, 0x67:                                      // BINGET, LONG_BINGET, GET
                let key = op == 0x68 ? Int(try byte()) : op == 0x6A ? Int(try littleEndian(4)) : (Int(try line()) ?? -1)
                guard let v = memo[key] else { throw PickleError(message: "memo key \(key) missing") }
                stack.append(v)
            case 0x51: stack.append(try persistentLoad(try pop()))      // BINPERSID
            case 0x50: stack.append(try persistentLoad(.string(try line())))  // PERSID
            case 0x52:                                                  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args.asTuple ?? []))
            case 0x81:                                                  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try reduce(cls, args.asTuple ?? []))
            case 0x62:                                                  // BUILD: attribute state is not needed
                _ = try pop()
            default:
                throw PickleError(message: String(format: "unsupported pickle opcode 0x%02x at byte %d", op, position - 1))
            }
        }
    }

    private func reduce(_ callable: PyValue, _ args: [PyValue]) throws -> PyValue {
        guard case let .global(module, name) = callable else { return .object(callable: "\(callable)") }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].asInt,
                  let shape = args[2].asTuple?.compactMap(\.asInt), let strides = args[3].asTuple?.compactMap(\.asInt)
            else { throw PickleError(message: "malformed \(name) arguments") }
            return .tensor(TensorRef(storage: storage, offset: offset + storage.viewOffset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first else { throw PickleError(message: "malformed \(name) arguments") }
            return data
        case ("torch.jit._pickle", "restore_type_tag"), ("torch.jit._pickle", "build_intlist"),
             ("torch.jit._pickle", "build_doublelist"), ("torch.jit._pickle", "build_boollist"),
             ("torch.jit._pickle", "build_tensorlist"):
            // libtorch's pickler wraps typed containers: (value, "Dict[str, Tensor]").
            guard let value = args.first else { throw PickleError(message: "malformed \(name) arguments") }
            return value
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            let d = PyDict()
            if let pairs = args.first?.asTuple {
                for pair in pairs { if let kv = pair.asTuple, kv.count == 2 { d.items.append((kv[0], kv[1])) } }
            }
            return .dict(d)
        default:
            return .object(callable: "\(module).\(name)")
        }
    }
}

/// Maps PyTorch's storage class names (`FloatStorage`, …) to element types.
func storageDType(_ name: String) -> DType? {
    switch name {
    case "FloatStorage": .float32
    case "DoubleStorage": .float64
    case "HalfStorage": .float16
    case "BFloat16Storage": .bfloat16
    case "LongStorage": .int64
    case "IntStorage": .int32
    case "ShortStorage": .int16
    case "CharStorage": .int8
    case "ByteStorage", "UntypedStorage": .uint8
    case "BoolStorage": .bool
    default: nil
    }
}

/// Reads a PyTorch persistent id `('storage', storage_type, key, location, numel[, view_metadata])`.
func storageReference(_ pid: PyValue) throws -> PyValue {
    guard let fields = pid.asTuple, fields.count >= 5, fields[0].asString == "storage",
          case let .global(_, typeName) = fields[1], let key = fields[2].asString ?? fields[2].asInt.map(String.init)
    else { throw PickleError(message: "unsupported persistent id \(pid)") }
    guard let dtype = storageDType(typeName) else { throw PickleError(message: "unsupported storage type \(typeName)") }
    var ref = StorageRef(key: key, dtype: dtype)
    if fields.count >= 6, let view = fields[5].asTuple, view.count >= 2, let offset = view[1].asInt {
        // Legacy views: (view_key, offset, size) into the root storage `key`.
        ref.viewOffset = offset
    }
    return .storage(ref)
}
