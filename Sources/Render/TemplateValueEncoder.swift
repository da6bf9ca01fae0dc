import Foundation

/// Encodes `Encodable` values straight into `TemplateValue`s, keeping object keys in
/// the order they were encoded (declaration order for synthesized conformances),
/// the way Go's `encoding/json` orders a struct's fields.
///
/// Dates become Go's `time.Time` JSON text (RFC 3339 with nanoseconds, UTC), `Data`
/// becomes base64 (Go's `[]byte`), URLs their absolute string; nil optionals
/// encoded with `encodeIfPresent` are left out.
struct TemplateValueEncoder {
    func encode<T: Encodable>(_ value: T) throws -> TemplateValue {
        let box = Box()
        try Self.encode(value, into: box, codingPath: [])
        return box.value
    }

    static func encode<T: Encodable>(_ value: T, into box: Box, codingPath: [CodingKey]) throws {
        switch value {
        case let date as Date:
            box.value = .string(goTimeJSON(date))
        case let data as Data:
            box.value = .string(data.base64EncodedString())
        case let url as URL:
            box.value = .string(url.absoluteString)
        case let decimal as Decimal:
            box.value = .double(NSDecimalNumber(decimal: decimal).doubleValue)
        case let templateValue as TemplateValue:
            box.value = templateValue
        default:
            try value.encode(to: Impl(box: box, codingPath: codingPath))
        }
    }

    /// Go's `time.Time.MarshalJSON` in UTC: `2024-01-02T15:04:05.123456789Z`.
    static func goTimeJSON(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let whole = Date(timeIntervalSince1970: seconds)
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d",
                          c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
        let nanos = Int(((date.timeIntervalSince1970 - seconds) * 1e9).rounded())
        if nanos > 0 && nanos < 1_000_000_000 {
            var fraction = String(format: "%09d", nanos)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// A slot a container fills in later; parents read it when building themselves.
    final class Box {
        enum Storage {
            case value(TemplateValue)
            case keyed([(String, Box)])
            case unkeyed([Box])
        }
        var storage: Storage = .value(.null)

        var value: TemplateValue {
            get {
                switch storage {
                case .value(let v): return v
                case .keyed(let pairs): return .map(pairs.map { ($0.0, $0.1.value) })
                case .unkeyed(let items): return .array(items.map(\.value))
                }
            }
            set { storage = .value(newValue) }
        }

        func child(forKey key: String) -> Box {
            if case .keyed(var pairs) = storage {
                if let existing = pairs.first(where: { $0.0 == key }) { return existing.1 }
                let box = Box()
                pairs.append((key, box))
                storage = .keyed(pairs)
                return box
            }
            let box = Box()
            storage = .keyed([(key, box)])
            return box
        }

        func makeKeyed() { if case .keyed = storage {} else { storage = .keyed([]) } }
        func makeUnkeyed() { if case .unkeyed = storage {} else { storage = .unkeyed([]) } }

        func appendChild() -> Box {
            let box = Box()
            if case .unkeyed(var items) = storage {
                items.append(box)
                storage = .unkeyed(items)
            } else {
                storage = .unkeyed([box])
            }
            return box
        }

        var count: Int {
            if case .unkeyed(let items) = storage { return items.count }
            return 0
        }
    }

    struct IndexKey: CodingKey {
        var stringValue: String { "Index \(intValue ?? 0)" }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Impl: Encoder {
        let box: Box
        let codingPath: [CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            box.makeKeyed()
            return KeyedEncodingContainer(Keyed<Key>(box: box, codingPath: codingPath))
        }

        func unkeyedContainer() -> UnkeyedEncodingContainer {
            box.makeUnkeyed()
            return Unkeyed(box: box, codingPath: codingPath)
        }

        func singleValueContainer() -> SingleValueEncodingContainer {
            Single(box: box, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: Box
        let codingPath: [CodingKey]

        mutating func encodeNil(forKey key: Key) throws { box.child(forKey: key.stringValue).value = .null }
        mutating func encode(_ value: Bool, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .bool(value) }
        mutating func encode(_ value: String, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .string(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .double(value) }
        mutating func encode(_ value: Float, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .double(Double(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .int(Int64(value)) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { box.child(forKey: key.stringValue).value = .int(value) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws {
            box.child(forKey: key.stringValue).value = value <= UInt64(Int64.max) ? .int(Int64(value)) : .double(Double(value))
        }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try TemplateValueEncoder.encode(value, into: box.child(forKey: key.stringValue), codingPath: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = box.child(forKey: key.stringValue)
            child.makeKeyed()
            return KeyedEncodingContainer(Keyed<NestedKey>(box: child, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            let child = box.child(forKey: key.stringValue)
            child.makeUnkeyed()
            return Unkeyed(box: child, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> Encoder {
            Impl(box: box.child(forKey: "super"), codingPath: codingPath)
        }
        mutating func superEncoder(forKey key: Key) -> Encoder {
            Impl(box: box.child(forKey: key.stringValue), codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: Box
        let codingPath: [CodingKey]
        var count: Int { box.count }

        mutating func encodeNil() throws { box.appendChild().value = .null }
        mutating func encode(_ value: Bool) throws { box.appendChild().value = .bool(value) }
        mutating func encode(_ value: String) throws { box.appendChild().value = .string(value) }
        mutating func encode(_ value: Double) throws { box.appendChild().value = .double(value) }
        mutating func encode(_ value: Int) throws { box.appendChild().value = .int(Int64(value)) }
        mutating func encode(_ value: Int64) throws { box.appendChild().value = .int(value) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let index = count
            try TemplateValueEncoder.encode(value, into: box.appendChild(), codingPath: codingPath + [IndexKey(index)])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = box.appendChild()
            child.makeKeyed()
            return KeyedEncodingContainer(Keyed<NestedKey>(box: child, codingPath: codingPath))
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let child = box.appendChild()
            child.makeUnkeyed()
            return Unkeyed(box: child, codingPath: codingPath)
        }
        mutating func superEncoder() -> Encoder { Impl(box: box.appendChild(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        let codingPath: [CodingKey]

        mutating func encodeNil() throws { box.value = .null }
        mutating func encode(_ value: Bool) throws { box.value = .bool(value) }
        mutating func encode(_ value: String) throws { box.value = .string(value) }
        mutating func encode(_ value: Double) throws { box.value = .double(value) }
        mutating func encode(_ value: Float) throws { box.value = .double(Double(value)) }
        mutating func encode(_ value: Int) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: Int8) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: Int16) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: Int32) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: Int64) throws { box.value = .int(value) }
        mutating func encode(_ value: UInt) throws { box.value = .int(Int64(clamping: value)) }
        mutating func encode(_ value: UInt8) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: UInt16) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: UInt32) throws { box.value = .int(Int64(value)) }
        mutating func encode(_ value: UInt64) throws {
            box.value = value <= UInt64(Int64.max) ? .int(Int64(value)) : .double(Double(value))
        }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try TemplateValueEncoder.encode(value, into: box, codingPath: codingPath)
        }
    }
}
