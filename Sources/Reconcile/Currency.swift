import ImageSet
import OCI
import Store

extension Observed {
    /// The image present for a desired reference (by tag; for a digest-only entry, the image
    /// pulled as the pin). The one lookup the planner and the resolver share.
    public func present(for want: DesiredTag) -> ObservedImage? {
        present(for: want.reference, pin: want.pin)
    }
}
