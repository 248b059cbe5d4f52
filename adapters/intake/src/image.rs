//! QR codes as pictures: SVG and PNG to print, PNG to read back (a scanned receipt, a photo).

use qrcode::{Color, EcLevel, QrCode, Version};

/// Printer dots (pixels) per module in the PNG, and the quiet zone in modules.
const MODULE_PX: usize = 4;
const QUIET_ZONE: usize = 4;

/// Why a picture could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the payload does not fit a QR code: {0}")]
    Encode(String),
    #[error("the image is not a readable PNG: {0}")]
    Png(String),
    #[error("no QR code found in the image")]
    NoCode,
    #[error("the QR code could not be decoded: {0}")]
    Decode(String),
}

/// The QR code for `payload` at error correction level M (15% of the code may be lost).
pub fn qr_code(payload: &str) -> Result<QrCode, ImageError> {
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| ImageError::Encode(e.to_string()))
}

/// The code's version (1..=40): its size is 17 + 4 × version modules.
pub fn version_of(code: &QrCode) -> i16 {
    match code.version() {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

pub fn to_svg(payload: &str) -> Result<String, ImageError> {
    let code = qr_code(payload)?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().quiet_zone(true).module_dimensions(4, 4).build())
}

pub fn to_png(payload: &str) -> Result<Vec<u8>, ImageError> {
    let code = qr_code(payload)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET_ZONE) * MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (mx, my) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
            for dy in 0..MODULE_PX {
                let row = (my * MODULE_PX + dy) * side;
                pixels[row + mx * MODULE_PX..row + (mx + 1) * MODULE_PX].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| ImageError::Png(e.to_string()))?;
    writer.write_image_data(&pixels).map_err(|e| ImageError::Png(e.to_string()))?;
    writer.finish().map_err(|e| ImageError::Png(e.to_string()))?;
    Ok(out)
}

/// The text of the first QR code found in a PNG.
pub fn read_png(bytes: &[u8]) -> Result<String, ImageError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| ImageError::Png(e.to_string()))?;
    let (width, height) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    if width.saturating_mul(height) > 64 * 1024 * 1024 {
        return Err(ImageError::Png("larger than 64 megapixels".into()));
    }
    let mut buf =
        vec![0; reader.output_buffer_size().ok_or_else(|| ImageError::Png("image too large".into()))?];
    let frame = reader.next_frame(&mut buf).map_err(|e| ImageError::Png(e.to_string()))?;
    let channels = frame.color_type.samples();
    let stride = frame.line_size;
    let luma = |x: usize, y: usize| -> u8 {
        let p = &buf[y * stride + x * channels..];
        match channels {
            1 | 2 => p[0],
            _ => ((u16::from(p[0]) * 3 + u16::from(p[1]) * 6 + u16::from(p[2])) / 10) as u8,
        }
    };
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
    let grids = prepared.detect_grids();
    let grid = grids.first().ok_or(ImageError::NoCode)?;
    let (_, content) = grid.decode().map_err(|e| ImageError::Decode(e.to_string()))?;
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_and_svg() {
        let payload = "RK:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSP";
        let png = to_png(payload).unwrap();
        assert_eq!(read_png(&png).unwrap(), payload);
        let svg = to_svg(payload).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        assert!(matches!(read_png(b"not a png"), Err(ImageError::Png(_))));
        let blank = {
            let mut out = Vec::new();
            let mut e = png::Encoder::new(&mut out, 40, 40);
            e.set_color(png::ColorType::Grayscale);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[255u8; 1600]).unwrap();
            w.finish().unwrap();
            out
        };
        assert_eq!(read_png(&blank).unwrap_err(), ImageError::NoCode);
    }

    #[test]
    fn the_payload_limit_is_version_25_at_level_m() {
        use crate::qr::{MAX_PAYLOAD_CHARS, MAX_QR_VERSION};
        let fits = format!("RK:{}", "A".repeat(MAX_PAYLOAD_CHARS - 3));
        assert_eq!(version_of(&qr_code(&fits).unwrap()), MAX_QR_VERSION);
        let over = format!("RK:{}", "A".repeat(MAX_PAYLOAD_CHARS - 2));
        assert!(version_of(&qr_code(&over).unwrap()) > MAX_QR_VERSION);
    }
}
