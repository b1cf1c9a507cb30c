import Foundation
import Imaging

/// Writes a POV-Ray 3.7 scene for a `FixtureSpec`: the piece as a real shape of its category and design,
/// metals as coloured metallic finishes, gemstones as refractive faceted stones (pearls, turquoise and
/// onyx as their own materials), on a studio sweep, marble, velvet, wood or linen, under a varied camera
/// and lights. Units: the piece spans about 2–3 units around the origin, resting on the floor y = 0.
public struct SceneBuilder: Sendable {
    public init() {}

    // MARK: materials

    /// Linear RGB reflectance at normal incidence (the scene is `assumed_gamma 1.0`). Metals that differ
    /// by nothing but a few per cent of colour take measured values: silver, platinum, gold and brass
    /// from Filament's table of metals (sRGB 250,249,245; 214,209,200; 255,220,157; 244,228,173,
    /// linearised), white gold as the rhodium that plates it (about 75–79 % across the visible, an
    /// approximate value: Filament does not list it). So platinum is the darker, warmer grey it is in
    /// life and brass the paler, greener yellow. Before, the white metals were invented greys within 8 %
    /// of each other (silver 0.93, white gold 0.86, platinum 0.80, platinum the coolest) and brass was
    /// gold a little darker, which no photo under varied light could tell apart. Rose gold and copper
    /// keep invented values.
    static let metalColors: [String: (Double, Double, Double)] = [
        "yellow-gold": (1.000, 0.716, 0.337), "white-gold": (0.79, 0.77, 0.75), "rose-gold": (0.96, 0.60, 0.50),
        "sterling-silver": (0.956, 0.947, 0.913), "platinum": (0.672, 0.637, 0.578), "copper": (0.93, 0.50, 0.32),
        "brass": (0.905, 0.776, 0.418),
    ]

    struct Stone { let color: (Double, Double, Double); let ior: Double }
    static let stones: [String: Stone] = [
        "diamond": Stone(color: (0.97, 0.98, 1.0), ior: 2.42), "cubic-zirconia": Stone(color: (0.98, 0.98, 0.98), ior: 2.15),
        "ruby": Stone(color: (0.85, 0.05, 0.15), ior: 1.77), "sapphire": Stone(color: (0.10, 0.20, 0.85), ior: 1.77),
        "emerald": Stone(color: (0.05, 0.70, 0.30), ior: 1.58), "amethyst": Stone(color: (0.60, 0.25, 0.85), ior: 1.54),
        "topaz": Stone(color: (0.45, 0.75, 1.0), ior: 1.62), "garnet": Stone(color: (0.55, 0.04, 0.08), ior: 1.79),
    ]

    func rgb(_ c: (Double, Double, Double)) -> String { String(format: "<%.3f, %.3f, %.3f>", c.0, c.1, c.2) }

    func metalTexture(_ name: String, color: (Double, Double, Double), finish: String) -> String {
        let (reflection, roughness, diffuse, normal): (Double, Double, Double, String)
        switch finish {
        case "hammered": (reflection, roughness, diffuse, normal) = (0.55, 0.006, 0.2, "normal { crackle 0.55 scale 0.09 }")
        case "brushed": (reflection, roughness, diffuse, normal) = (0.35, 0.03, 0.3, "normal { bumps 0.18 scale <0.6, 0.004, 0.004> }")
        case "matte": (reflection, roughness, diffuse, normal) = (0.12, 0.08, 0.5, "normal { granite 0.12 scale 0.03 }")
        default: (reflection, roughness, diffuse, normal) = (0.7, 0.003, 0.12, "")
        }
        return """
        #declare \(name) = texture {
          pigment { color rgb \(rgb(color)) }
          finish { ambient 0 diffuse \(diffuse) brilliance 3 specular 0.9 metallic roughness \(roughness) reflection { \(reflection) metallic } }
          \(normal)
        }
        """
    }

    /// Two-tone: the piece's body in alternating bands of yellow and white gold, so both metals show
    /// whatever the design. Bands 0.2 units wide at 35° to the piece's x axis, set by `frequency` rather
    /// than `scale`, so the finish's own patterns keep their size. With white gold only on the settings
    /// (`MetalB`), most two-tone renders had looked all yellow: a band or a chain without stones had no
    /// white at all.
    func twoToneTexture(_ name: String, yellow: (Double, Double, Double), white: (Double, Double, Double), finish: String) -> String {
        """
        \(metalTexture(name + "Yellow", color: yellow, finish: finish))
        \(metalTexture(name + "White", color: white, finish: finish))
        #declare \(name) = texture {
          gradient <0.819, 0, 0.574> frequency 2.5
          texture_map { [0 \(name)Yellow] [0.5 \(name)Yellow] [0.5 \(name)White] [1 \(name)White] }
        }
        """
    }

    func stoneMaterial(_ slug: String) -> String {
        switch slug {
        case "pearl":
            return "material { texture { pigment { color rgb <0.96, 0.93, 0.86> } finish { ambient 0.02 diffuse 0.75 specular 0.6 roughness 0.03 reflection 0.06 irid { 0.2 thickness 0.4 turbulence 0.6 } } } }"
        case "turquoise":
            return "material { texture { pigment { granite turbulence 0.4 color_map { [0.0 color rgb <0.20, 0.75, 0.72>] [0.75 color rgb <0.25, 0.80, 0.76>] [0.85 color rgb <0.35, 0.28, 0.20>] [1.0 color rgb <0.25, 0.70, 0.68>] } scale 0.25 } finish { ambient 0 diffuse 0.7 specular 0.3 roughness 0.05 } } }"
        case "onyx":
            return "material { texture { pigment { color rgb <0.015, 0.015, 0.02> } finish { ambient 0 diffuse 0.3 specular 1 roughness 0.002 reflection { 0.05, 0.3 fresnel } conserve_energy } } interior { ior 1.5 } }"
        default:
            let stone = Self.stones[slug] ?? Self.stones["diamond"]!
            let c = stone.color
            return String(format: "material { texture { pigment { color rgbf <%.3f, %.3f, %.3f, 0.92> } finish { ambient 0 diffuse 0.05 specular 1 roughness 0.0008 reflection { 0.05, 1 fresnel } conserve_energy } } interior { ior %.2f fade_distance 0.6 fade_power 1001 fade_color <%.3f, %.3f, %.3f> } }",
                          c.0, c.1, c.2, stone.ior, c.0, c.1, c.2)
        }
    }

    /// A stone object of radius `r` at the origin, table up (+y).
    func stoneObject(_ slug: String, r: Double, material: String) -> String {
        switch slug {
        case "pearl": return String(format: "sphere { 0, %.3f material { %@ } }", r, material)
        case "turquoise", "onyx":
            return String(format: "intersection { sphere { 0, %.3f scale <1, 0.6, 1> } plane { -y, 0 } material { %@ } }", r, material)
        default: return String(format: "object { Brilliant(%.3f) material { %@ } }", r, material)
        }
    }

    // MARK: scene

    public func scene(for spec: FixtureSpec) -> String {
        let a = spec.attributes, s = spec.scene
        var rng = SplitMix(seed: UInt64(s.detailSeed) &+ 17)
        let twoTone = a.metal == "two-tone"
        let primaryColor = Self.metalColors[twoTone ? "yellow-gold" : a.metal]!
        let secondaryColor = Self.metalColors[twoTone ? "white-gold" : a.metal]!
        let stones = a.gemstones.filter { $0 != "none" }
        let main = stones.first ?? "none", accent = stones.count > 1 ? stones[1] : main

        var out = """
        #version 3.7;
        global_settings { assumed_gamma 1.0 max_trace_level 10 adc_bailout 0.01 }
        #macro Brilliant(R)
          intersection {
            union { cone { <0, 0, 0>, R, <0, 0.32 * R, 0>, 0.56 * R } cone { <0, 0, 0>, R, <0, -0.78 * R, 0>, 0 } }
            #for (I, 0, 7) plane { <1, 1.05, 0>, 0.86 * R rotate y * (I * 45 + 22.5) } #end
            #for (I, 0, 7) plane { <1, -0.85, 0>, 0.79 * R rotate y * (I * 45) } #end
          }
        #end
        \(twoTone ? twoToneTexture("MetalA", yellow: primaryColor, white: secondaryColor, finish: a.finish)
                  : metalTexture("MetalA", color: primaryColor, finish: a.finish))
        \(metalTexture("MetalB", color: secondaryColor, finish: a.finish))
        #declare StoneMain = \(stoneMaterial(main == "none" ? "diamond" : main))
        #declare StoneAccent = \(stoneMaterial(accent == "none" ? "diamond" : accent))

        """
        out += background(s)
        out += lights(s)
        out += camera(spec)
        let piece = self.piece(spec, main: main, accent: accent, rng: &rng)
        out += String(format: "object { %@ scale %.3f rotate y * %.2f }\n", piece, s.scale, s.pieceRotation)
        return out
    }

    func background(_ s: FixtureSpec.Scene) -> String {
        let c = s.backgroundColor
        let floor: String
        switch s.background {
        case "marble":
            floor = "pigment { marble turbulence 1.2 color_map { [0 color rgb <0.95, 0.95, 0.94>] [0.8 color rgb <0.9, 0.9, 0.9>] [0.95 color rgb <0.55, 0.56, 0.58>] [1 color rgb <0.9, 0.9, 0.9>] } scale 4 rotate <10, 30, 0> } finish { ambient 0 diffuse 0.8 specular 0.4 roughness 0.02 reflection 0.05 }"
        case "velvet":
            floor = String(format: "pigment { color rgb <%.3f, %.3f, %.3f> } finish { ambient 0 diffuse 0.9 specular 0.05 roughness 0.3 } normal { granite 0.25 scale 0.015 }", c[0], c[1], c[2])
        case "wood":
            floor = "pigment { wood turbulence 0.08 color_map { [0 color rgb <0.55, 0.36, 0.20>] [0.5 color rgb <0.45, 0.28, 0.15>] [1 color rgb <0.60, 0.40, 0.24>] } scale <0.4, 0.4, 8> rotate y * 80 } finish { ambient 0 diffuse 0.75 specular 0.2 roughness 0.05 }"
        case "linen":
            floor = "pigment { color rgb <0.93, 0.90, 0.84> } normal { average normal_map { [1 gradient x 0.4 triangle_wave scale 0.05] [1 gradient z 0.4 triangle_wave scale 0.05] } } finish { ambient 0 diffuse 0.85 }"
        default:  // white studio sweep
            floor = "pigment { color rgb <0.97, 0.97, 0.97> } finish { ambient 0.05 diffuse 0.9 }"
        }
        // A seamless sweep: the floor curves up into a back wall, as in a product-photography studio.
        let sweepPigment = s.background == "studio" ? floor : "pigment { color rgb <0.96, 0.96, 0.96> } finish { ambient 0.05 diffuse 0.9 }"
        return """
        sky_sphere { pigment { gradient y color_map { [0 color rgb <0.95, 0.95, 0.97>] [1 color rgb <0.75, 0.78, 0.85>] } } }
        plane { y, 0 \(floor) }
        difference { cylinder { <-40, 6, 10>, <40, 6, 10>, 6 } cylinder { <-41, 6, 10>, <41, 6, 10>, 5.99 } plane { z, 10 } plane { -y, -6 } \(sweepPigment) }
        plane { -z, -16 \(sweepPigment) }
        // Softbox panels: bright shapes for metal and stones to reflect.
        box { <-3, 5, -2>, <3, 5.1, 2> pigment { color rgb 1 } finish { ambient 1.6 diffuse 0 } no_shadow no_image }
        box { <-9, 1, -4>, <-8.9, 6, 4> pigment { color rgb 1 } finish { ambient 1.2 diffuse 0 } no_shadow no_image }

        """
    }

    func lights(_ s: FixtureSpec.Scene) -> String {
        let warm = s.warmth
        let color = String(format: "<%.3f, %.3f, %.3f>", 1 + 0.08 * warm, 1.0, 1 - 0.1 * warm)
        let a = s.lightAzimuth * .pi / 180
        return String(format: """
        light_source { <%.2f, 9, %.2f> color rgb %@ * %.3f area_light <2, 0, 0>, <0, 0, 2>, 3, 3 adaptive 0 circular orient }
        light_source { <%.2f, 6, -8> color rgb %@ * 0.45 shadowless }
        light_source { <0, 3, -9> color rgb %@ * 0.25 shadowless }

        """, 6 * Foundation.sin(a), -6 * Foundation.cos(a), color, s.lightIntensity, -6 * Foundation.sin(a), color, color)
    }

    func camera(_ spec: FixtureSpec) -> String {
        let s = spec.scene
        let e = s.cameraElevation * .pi / 180, az = s.cameraAzimuth * .pi / 180
        let height = ["ring": 1.1, "bangle": 1.0, "earrings": 0.55][spec.attributes.category] ?? 0.1
        let target = [s.lookOffset[0], height * s.scale + s.lookOffset[1], s.lookOffset[2]]
        let d = s.cameraDistance
        let position = [target[0] + d * Foundation.cos(e) * Foundation.sin(az), target[1] + d * Foundation.sin(e),
                         target[2] - d * Foundation.cos(e) * Foundation.cos(az)]
        return String(format: "camera { perspective location <%.3f, %.3f, %.3f> look_at <%.3f, %.3f, %.3f> angle 34 right x up y }\n",
                      position[0], position[1], position[2], target[0], target[1], target[2])
    }

    // MARK: pieces

    /// Points along a curve lying on the floor: a U (necklace) or a loose loop (bracelet, anklet).
    func curve(_ count: Int, width: Double, depth: Double, closed: Bool) -> [(Double, Double)] {
        (0 ..< count).map { i in
            let t = Double(i) / Double(closed ? count : count - 1)
            let angle = closed ? 2 * .pi * t : .pi * (0.05 + 0.9 * t)
            return closed ? (width * Foundation.cos(angle), depth * Foundation.sin(angle))
                          : (width * Foundation.cos(angle), -depth * Foundation.sin(angle) + depth * 0.45)
        }
    }

    func chain(_ points: [(Double, Double)], link: Double, y: Double, texture: String) -> String {
        var parts: [String] = []
        for i in 0 ..< points.count - 1 {
            let (x0, z0) = points[i], (x1, z1) = points[i + 1]
            let heading = Foundation.atan2(z1 - z0, x1 - x0) * 180 / .pi
            let roll = i % 2 == 0 ? 0.0 : 90.0
            parts.append(String(format: "torus { %.3f, %.3f scale <1.6, 1, 1> rotate x * %.0f rotate y * %.2f translate <%.3f, %.3f, %.3f> }",
                                link, link * 0.28, roll, -heading, (x0 + x1) / 2, y + link * 0.3, (z0 + z1) / 2))
        }
        return "union { \(parts.joined(separator: " ")) texture { \(texture) } }"
    }

    func setStone(_ slug: String, r: Double, material: String, at p: (Double, Double, Double), prongs: Bool, texture: String) -> String {
        let stone = stoneObject(slug, r: r, material: material)
        var parts = [String(format: "object { %@ translate <%.3f, %.3f, %.3f> }", stone, p.0, p.1, p.2)]
        if prongs, slug != "pearl" {
            for k in 0 ..< 4 {
                let ang = Double(k) * .pi / 2 + .pi / 4
                let (dx, dz) = (Foundation.cos(ang) * r * 0.95, Foundation.sin(ang) * r * 0.95)
                parts.append(String(format: "cylinder { <%.3f, %.3f, %.3f>, <%.3f, %.3f, %.3f>, %.3f texture { %@ } }",
                                    p.0 + dx * 0.7, p.1 - r * 0.9, p.2 + dz * 0.7, p.0 + dx, p.1 + r * 0.22, p.2 + dz, r * 0.09, texture))
            }
            parts.append(String(format: "cone { <%.3f, %.3f, %.3f>, %.3f, <%.3f, %.3f, %.3f>, %.3f open texture { %@ } }",
                                p.0, p.1 - r * 1.1, p.2, r * 0.35, p.0, p.1 - r * 0.1, p.2, r * 0.9, texture))
        } else {
            parts.append(String(format: "difference { cylinder { <%.3f, %.3f, %.3f>, <%.3f, %.3f, %.3f>, %.3f } cylinder { <%.3f, %.3f, %.3f>, <%.3f, %.3f, %.3f>, %.3f } texture { %@ } }",
                                p.0, p.1 - r * 0.6, p.2, p.0, p.1 + r * 0.08, p.2, r * 1.12,
                                p.0, p.1 - r * 0.5, p.2, p.0, p.1 + r * 0.2, p.2, r * 0.98, texture))
        }
        return "union { \(parts.joined(separator: " ")) }"
    }

    func piece(_ spec: FixtureSpec, main: String, accent: String, rng: inout SplitMix) -> String {
        let a = spec.attributes
        let hasStone = main != "none"
        let style = a.style
        let milgrain = style == "vintage" || style == "art-deco"
        switch a.category {
        case "ring":
            // Standing ring, band in the xy plane facing the camera, setting on top.
            let major = 1.0, minor = spec.design == "band" || spec.design == "signet" ? 0.16 : 0.1
            var parts = [String(format: "torus { %.3f, %.3f scale <1, %.2f, 1> rotate x * 90 texture { MetalA } }", major, minor,
                                spec.design == "band" ? 2.2 : 1.4)]
            let top = (0.0, major + minor, 0.0)
            switch spec.design {
            case "solitaire" where hasStone:
                parts.append(setStone(main, r: 0.32, material: "StoneMain", at: (0, top.1 + 0.3, 0), prongs: true, texture: "MetalB"))
            case "halo" where hasStone:
                parts.append(setStone(main, r: 0.28, material: "StoneMain", at: (0, top.1 + 0.28, 0), prongs: true, texture: "MetalB"))
                for k in 0 ..< 12 {
                    let ang = Double(k) * .pi / 6
                    parts.append(String(format: "object { %@ translate <%.3f, %.3f, %.3f> }",
                                        stoneObject(accent, r: 0.07, material: "StoneAccent"),
                                        0.38 * Foundation.cos(ang), top.1 + 0.22, 0.38 * Foundation.sin(ang)))
                }
                parts.append(String(format: "torus { 0.38, 0.05 translate <0, %.3f, 0> texture { MetalB } }", top.1 + 0.18))
            case "eternity" where hasStone, "band" where hasStone:
                for k in 0 ..< 9 {
                    let ang = (Double(k) - 4) * 0.2
                    parts.append(String(format: "object { %@ rotate z * %.2f translate <%.3f, %.3f, 0> }",
                                        stoneObject(main, r: 0.09, material: "StoneMain"), -ang * 180 / .pi,
                                        Foundation.sin(ang) * (major + minor), Foundation.cos(ang) * (major + minor) + 0.02))
                }
            case "cluster" where hasStone:
                parts.append(setStone(main, r: 0.2, material: "StoneMain", at: (0, top.1 + 0.22, 0), prongs: false, texture: "MetalB"))
                for k in 0 ..< 6 {
                    let ang = Double(k) * .pi / 3
                    parts.append(setStone(accent, r: 0.13, material: "StoneAccent",
                                          at: (0.3 * Foundation.cos(ang), top.1 + 0.12, 0.3 * Foundation.sin(ang)), prongs: false, texture: "MetalB"))
                }
            default:
                // Signet: a flat oval table; a stone-free band otherwise.
                if spec.design == "signet" || !hasStone {
                    parts.append(String(format: "cylinder { <0, %.3f, 0>, <0, %.3f, 0>, 0.38 scale <1.25, 1, 1> texture { MetalA } }", top.1 - 0.1, top.1 + 0.06))
                    if hasStone {
                        parts.append(String(format: "object { %@ translate <0, %.3f, 0> }", stoneObject(main, r: 0.3, material: "StoneMain"), top.1 + 0.06))
                    }
                } else {
                    parts.append(setStone(main, r: 0.3, material: "StoneMain", at: (0, top.1 + 0.28, 0), prongs: true, texture: "MetalB"))
                }
            }
            if style == "vintage" || style == "boho" || style == "floral" {
                // Filigree: a row of fine wire loops around the front face of the band.
                for k in 0 ..< 20 {
                    let ang = Double(k) / 20 * 2 * .pi
                    parts.append(String(format: "torus { 0.05, 0.012 rotate x * 90 translate <%.3f, %.3f, %.3f> texture { MetalB } }",
                                        (major - 0.01) * Foundation.cos(ang), (major - 0.01) * Foundation.sin(ang), -minor * 1.02))
                }
            }
            if milgrain {
                for k in 0 ..< 24 {
                    let ang = Double(k) / 24 * 2 * .pi
                    parts.append(String(format: "sphere { <%.3f, %.3f, %.3f>, 0.025 texture { MetalA } }",
                                        major * Foundation.cos(ang), major * Foundation.sin(ang), -minor * 1.05))
                }
            }
            return String(format: "union { %@ translate <0, %.3f, 0> }", parts.joined(separator: " "), major + minor)

        case "bangle":
            // A thick rigid circle lying at an angle on the floor.
            var parts: [String] = []
            if spec.design == "cuff" {
                parts.append("difference { cylinder { <0, -0.35, 0>, <0, 0.35, 0>, 1.75 } cylinder { <0, -0.4, 0>, <0, 0.4, 0>, 1.6 } box { <-0.6, -1, 1.2>, <0.6, 1, 2> } texture { MetalA } }")
            } else {
                parts.append("torus { 1.7, 0.17 scale <1, 1.6, 1> texture { MetalA } }")
            }
            if spec.design != "cuff", style == "vintage" || style == "boho" || style == "floral" {
                // Filigree loops along the outer edge of the bangle.
                for k in 0 ..< 36 {
                    let ang = Double(k) / 36 * 2 * .pi
                    parts.append(String(format: "torus { 0.07, 0.014 rotate z * 90 rotate y * %.2f translate <%.3f, 0.2, %.3f> texture { MetalB } }",
                                        -ang * 180 / .pi, 1.82 * Foundation.cos(ang), 1.82 * Foundation.sin(ang)))
                }
            }
            if hasStone {
                for k in 0 ..< (spec.design == "stone-set" ? 7 : 3) {
                    let ang = (Double(k) - 3) * 0.18 - .pi / 2
                    parts.append(String(format: "object { %@ rotate x * -90 rotate y * %.2f translate <%.3f, 0, %.3f> }",
                                        stoneObject(k % 2 == 0 ? main : accent, r: 0.12, material: k % 2 == 0 ? "StoneMain" : "StoneAccent"),
                                        -ang * 180 / .pi + 90, 1.88 * Foundation.cos(ang), 1.88 * Foundation.sin(ang)))
                }
            }
            return "union { \(parts.joined(separator: " ")) scale 0.8 rotate x * 65 translate <0, 1.4, 0.5> }"

        case "bracelet", "anklet":
            let anklet = a.category == "anklet"
            let points = curve(anklet ? 44 : 34, width: anklet ? 2.1 : 1.7, depth: anklet ? 1.5 : 1.2, closed: false)
            var parts: [String] = []
            if spec.design == "tennis", hasStone {
                for (i, p) in points.enumerated() {
                    parts.append(setStone(i % 2 == 0 || accent == main ? main : accent, r: 0.09,
                                          material: i % 2 == 0 ? "StoneMain" : "StoneAccent", at: (p.0, 0.1, p.1), prongs: false, texture: "MetalA"))
                }
            } else if spec.design == "bead" || spec.design == "beaded" {
                parts.append(chain(points, link: anklet ? 0.05 : 0.07, y: 0, texture: "MetalA"))
                for (i, p) in points.enumerated() where i % 3 == 1 {
                    parts.append(hasStone
                        ? String(format: "object { %@ translate <%.3f, 0.1, %.3f> }", stoneObject(main, r: 0.1, material: "StoneMain"), p.0, p.1)
                        : String(format: "sphere { <%.3f, 0.1, %.3f>, 0.1 texture { MetalB } }", p.0, p.1))
                }
            } else {
                parts.append(chain(points, link: anklet ? 0.05 : 0.1, y: 0, texture: "MetalA"))
                for (i, p) in points.enumerated() where (anklet && i % 7 == 3) || (!anklet && hasStone && i % 8 == 4) {
                    parts.append(hasStone
                        ? setStone(main, r: 0.1, material: "StoneMain", at: (p.0, 0.1, p.1 - 0.12), prongs: false, texture: "MetalB")
                        : String(format: "cylinder { <%.3f, 0.01, %.3f>, <%.3f, 0.04, %.3f>, 0.12 texture { MetalB } }", p.0, p.1 - 0.14, p.0, p.1 - 0.14))
                }
            }
            return "union { \(parts.joined(separator: " ")) }"

        case "necklace", "pendant":
            let pendant = a.category == "pendant"
            let points = curve(pendant ? 26 : 44, width: pendant ? 1.1 : 2.3, depth: pendant ? 1.6 : 2.0, closed: false)
            var parts: [String] = []
            if spec.design == "pearl-strand" {
                for p in points { parts.append(String(format: "object { %@ translate <%.3f, 0.1, %.3f> }", stoneObject("pearl", r: 0.11, material: "StoneMain"), p.0, p.1)) }
            } else {
                parts.append(chain(points, link: 0.06, y: 0, texture: "MetalA"))
            }
            let bottom = points[points.count / 2]
            let centre = (bottom.0, 0.0, bottom.1 - (pendant ? 0.55 : 0.4))
            switch spec.design {
            case "bar":
                // A bar with three bezel-set stones along its top (its label always names a stone).
                parts.append(String(format: "box { <-0.6, 0, -0.08>, <0.6, 0.06, 0.08> translate <%.3f, 0, %.3f> texture { MetalA } }", bottom.0, bottom.1 - 0.05))
                if hasStone {
                    for k in 0 ..< 3 {
                        parts.append(setStone(k == 1 ? accent : main, r: 0.07, material: k == 1 ? "StoneAccent" : "StoneMain",
                                              at: (bottom.0 + Double(k - 1) * 0.36, 0.1, bottom.1 - 0.05), prongs: false, texture: "MetalB"))
                    }
                }
            case "station":
                for (i, p) in points.enumerated() where i % 6 == 3 {
                    parts.append(hasStone
                        ? setStone(main, r: 0.09, material: "StoneMain", at: (p.0, 0.1, p.1), prongs: false, texture: "MetalB")
                        : String(format: "sphere { <%.3f, 0.08, %.3f>, 0.08 texture { MetalB } }", p.0, p.1))
                }
            case "pearl-strand": break
            default:
                // The pendant: bail and body (drop, disc, heart, hexagon) with its stone.
                parts.append(String(format: "torus { 0.1, 0.03 rotate z * 90 translate <%.3f, 0.05, %.3f> texture { MetalA } }", bottom.0, bottom.1 - 0.08))
                let body: String
                switch spec.design {
                case "disc": body = "cylinder { <0, 0, 0>, <0, 0.06, 0>, 0.42 }"
                case "heart": body = "union { cylinder { <-0.17, 0, 0.1>, <-0.17, 0.06, 0.1>, 0.24 } cylinder { <0.17, 0, 0.1>, <0.17, 0.06, 0.1>, 0.24 } prism { 0, 0.06, 4, <-0.39, 0.02>, <0.39, 0.02>, <0, -0.45>, <-0.39, 0.02> } }"
                case "hexagon": body = "prism { 0, 0.07, 7, <0.45, 0>, <0.225, 0.39>, <-0.225, 0.39>, <-0.45, 0>, <-0.225, -0.39>, <0.225, -0.39>, <0.45, 0> }"
                default: body = "sphere { 0, 0.3 scale <0.75, 0.25, 1.15> }"
                }
                parts.append(String(format: "object { %@ translate <%.3f, 0.0, %.3f> texture { MetalA } }", body, centre.0, centre.2))
                if hasStone {
                    parts.append(String(format: "object { %@ translate <%.3f, 0.1, %.3f> }",
                                        stoneObject(main, r: pendant ? 0.2 : 0.17, material: "StoneMain"), centre.0, centre.2))
                }
            }
            return "union { \(parts.joined(separator: " ")) translate <0, 0, 0.3> }"

        case "earrings":
            // Always a pair, side by side.
            var one: [String] = []
            switch spec.design {
            case "hoops":
                one.append("torus { 0.6, 0.07 rotate x * 90 translate <0, 0.67, 0> texture { MetalA } }")
                if hasStone {
                    for k in 0 ..< 5 {
                        let ang = -.pi / 2 + (Double(k) - 2) * 0.3
                        one.append(String(format: "object { %@ rotate x * -90 translate <%.3f, %.3f, -0.07> }",
                                          stoneObject(main, r: 0.06, material: "StoneMain"), 0.6 * Foundation.cos(ang), 0.67 + 0.6 * Foundation.sin(ang)))
                    }
                }
            case "drops":
                one.append("torus { 0.18, 0.025 rotate x * 90 translate <0, 1.35, 0> texture { MetalA } }")
                one.append("cylinder { <0, 0.75, 0>, <0, 1.2, 0>, 0.025 texture { MetalA } }")
                one.append(hasStone
                    ? String(format: "object { %@ rotate x * -90 translate <0, 0.45, 0> }", stoneObject(main, r: 0.3, material: "StoneMain"))
                    : "sphere { <0, 0.45, 0>, 0.3 scale <1, 1.3, 0.4> texture { MetalB } }")
            default:  // studs, facing the camera
                one.append(hasStone
                    ? String(format: "object { %@ rotate x * -80 translate <0, 0.4, 0> }", setStone(main, r: 0.28, material: "StoneMain", at: (0, 0, 0), prongs: main != "pearl", texture: "MetalA"))
                    : "sphere { <0, 0.4, 0>, 0.3 scale <1, 1, 0.5> texture { MetalA } }")
                one.append("cylinder { <0, 0.4, 0>, <0, 0.4, 0.6>, 0.03 texture { MetalB } }")
            }
            let single = "union { \(one.joined(separator: " ")) }"
            return "union { object { \(single) translate <-0.9, 0, 0> } object { \(single) rotate y * 12 translate <0.9, 0, 0.15> } }"

        default:  // brooch
            var parts: [String] = []
            switch spec.design {
            case "star":
                parts.append("prism { 0, 0.1, 11, <0, 1>, <0.24, 0.33>, <0.95, 0.31>, <0.38, -0.12>, <0.59, -0.81>, <0, -0.4>, <-0.59, -0.81>, <-0.38, -0.12>, <-0.95, 0.31>, <-0.24, 0.33>, <0, 1> texture { MetalA } }")
            case "bar":
                parts.append("box { <-1.1, 0, -0.16>, <1.1, 0.1, 0.16> texture { MetalA } }")
                if hasStone {
                    for k in 0 ..< 5 {
                        parts.append(setStone(k % 2 == 0 ? main : accent, r: 0.1, material: k % 2 == 0 ? "StoneMain" : "StoneAccent",
                                              at: (Double(k - 2) * 0.4, 0.12, 0), prongs: false, texture: "MetalB"))
                    }
                }
            default:  // flower: petals around a centre
                for k in 0 ..< 6 {
                    let ang = Double(k) * 60.0
                    parts.append(String(format: "sphere { 0, 0.45 scale <1, 0.18, 0.45> translate <0.5, 0.06, 0> rotate y * %.0f texture { MetalA } }", ang))
                }
                for k in 0 ..< 5 {
                    parts.append(String(format: "sphere { 0, 0.2 scale <1, 0.15, 0.4> translate <0.75, 0.1, 0> rotate y * %.0f texture { MetalB } }", Double(k) * 72 + 30))
                }
            }
            if hasStone, spec.design != "bar" {
                parts.append(setStone(main, r: 0.22, material: "StoneMain", at: (0, 0.2, 0), prongs: spec.design == "star", texture: "MetalB"))
            }
            return "union { \(parts.joined(separator: " ")) }"
        }
    }
}
