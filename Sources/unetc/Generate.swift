import ArgumentParser
import UNetC

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate unet.c and unet.h.")
    func run() throws { throw ValidationError("not yet") }
}
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate, compile and check against the interpreter.")
    func run() throws { throw ValidationError("not yet") }
}
