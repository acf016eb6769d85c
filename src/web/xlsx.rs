//! Spreadsheets for download: one sheet per table, a bold title and header
//! row, numbers written as numbers so that Excel can sum them.

use rust_xlsxwriter::{Format, Workbook};

use crate::error::AppError;

/// A sheet: its name, a title line above the table, and the table's rows
/// (the first row is the header).
pub struct Sheet {
    pub name: String,
    pub title: String,
    pub rows: Vec<Vec<String>>,
}

pub fn workbook(sheets: &[Sheet]) -> Result<Vec<u8>, AppError> {
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&sheet.name).map_err(xerr)?;
        ws.write_string_with_format(0, 0, &sheet.title, &bold).map_err(xerr)?;
        for (ri, row) in sheet.rows.iter().enumerate() {
            for (ci, cell) in row.iter().enumerate() {
                let (rr, cc) = (ri as u32 + 2, ci as u16);
                match cell.parse::<f64>() {
                    Ok(n) if ri > 0 && ci > 0 => ws.write_number(rr, cc, n).map(|_| ()),
                    _ if ri == 0 => ws.write_string_with_format(rr, cc, cell, &bold).map(|_| ()),
                    _ => ws.write_string(rr, cc, cell).map(|_| ()),
                }
                .map_err(xerr)?;
            }
        }
        ws.set_column_width(0, 36).map_err(xerr)?;
    }
    wb.save_to_buffer().map_err(xerr)
}
