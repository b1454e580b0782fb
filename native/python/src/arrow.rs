//! The Arrow PyCapsule interface over the core's Arrow columns: `ArrowBatches` exports record
//! batches (`__arrow_c_schema__`, `__arrow_c_array__`, `__arrow_c_stream__`) so that pyarrow,
//! polars or any Arrow consumer takes them without a copy and without a Python object per
//! row; the import side reads any object that exports them. The verdicts themselves are
//! built in the core (`turbojwt_core::arrow`).

use std::ffi::CStr;
use std::sync::Arc;

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{
    make_array, Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch,
    RecordBatchIterator, StringArray, StructArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList, PyString, PyTuple};
use turbojwt_core::arrow::{self as core_arrow, VERDICT_COLUMNS};

const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";
const STREAM: &CStr = c"arrow_array_stream";

pub(crate) fn arrow_err(e: ArrowError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Record batches of one schema, exported as a stream through the Arrow PyCapsule interface
/// (`pyarrow.table(obj)`, `polars.DataFrame(obj)`). One batch is exported as an
/// [`ArrowRecordBatch`] instead (see [`export`]): a consumer that finds
/// `__arrow_c_array__` (polars does first) must get the whole data from it.
#[pyclass(module = "turbojwt._native", frozen)]
pub struct ArrowBatches {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

/// One record batch, exported through the Arrow PyCapsule interface as an array or a stream
/// (`pyarrow.record_batch(obj)` too).
#[pyclass(module = "turbojwt._native", frozen)]
pub struct ArrowRecordBatch {
    batch: RecordBatch,
}

/// `batches` for Python: an [`ArrowRecordBatch`] when there is one, else [`ArrowBatches`].
pub(crate) fn export(
    py: Python<'_>,
    schema: SchemaRef,
    mut batches: Vec<RecordBatch>,
) -> PyResult<Py<PyAny>> {
    if batches.len() == 1 {
        let batch = batches.pop().expect("one batch");
        return Ok(Py::new(py, ArrowRecordBatch { batch })?.into_any());
    }
    Ok(Py::new(py, ArrowBatches { schema, batches })?.into_any())
}

fn schema_capsule<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyCapsule>> {
    let schema = FFI_ArrowSchema::try_from(schema).map_err(arrow_err)?;
    PyCapsule::new_with_value(py, schema, SCHEMA)
}

/// The batches as an ArrowArrayStream capsule. (The requested schema, which the protocol
/// lets a producer ignore, is ignored.)
fn stream_capsule<'py>(
    py: Python<'py>,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema.clone());
    PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(Box::new(reader)), STREAM)
}

fn column_names(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

#[pymethods]
impl ArrowBatches {
    fn __len__(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        column_names(&self.schema)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, &self.schema, self.batches.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "<ArrowBatches {} rows in {} batches: {}>",
            self.__len__(),
            self.batches.len(),
            self.column_names().join(", ")
        )
    }
}

#[pymethods]
impl ArrowRecordBatch {
    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        column_names(self.batch.schema_ref())
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, self.batch.schema_ref())
    }

    /// The batch as a struct array. (The requested schema is ignored.)
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        let array = StructArray::from(self.batch.clone());
        let array = FFI_ArrowArray::new(&array.to_data());
        PyTuple::new(
            py,
            [
                schema_capsule(py, self.batch.schema_ref())?,
                PyCapsule::new_with_value(py, array, ARRAY)?,
            ],
        )
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        stream_capsule(py, &self.batch.schema(), vec![self.batch.clone()])
    }

    fn __repr__(&self) -> String {
        format!(
            "<ArrowRecordBatch {} rows: {}>",
            self.__len__(),
            self.column_names().join(", ")
        )
    }
}

// ---------------------------------------------------------------------------- import

/// The record batches an object exports through `__arrow_c_stream__` (a table, a data
/// frame, a record batch reader) or `__arrow_c_array__` (a record batch), with their schema.
pub(crate) fn import_batches(obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    if obj.hasattr("__arrow_c_stream__")? {
        let capsule = obj.call_method0("__arrow_c_stream__")?;
        let capsule = capsule.cast::<PyCapsule>()?;
        let ptr = capsule
            .pointer_checked(Some(STREAM))?
            .cast::<FFI_ArrowArrayStream>();
        // SAFETY: the capsule is named "arrow_array_stream", so by the PyCapsule interface it
        // holds an ArrowArrayStream; `from_raw` moves the struct out and marks the capsule's
        // copy released, so the capsule's destructor does not release it again.
        let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr()) };
        let reader = RecordBatchStreamReader::try_new(stream).map_err(arrow_err)?;
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(arrow_err)?;
        return Ok((schema, batches));
    }
    if obj.hasattr("__arrow_c_array__")? {
        let array = import_array(obj)?;
        let DataType::Struct(_) = array.data_type() else {
            return Err(PyTypeError::new_err(
                "an Arrow record batch or table is needed, not a single array",
            ));
        };
        let Some(rows) = array.as_any().downcast_ref::<StructArray>() else {
            return Err(PyTypeError::new_err(
                "an Arrow struct array that is not one",
            ));
        };
        // (a record batch has no null rows; `RecordBatch::from` would panic on one)
        if rows.null_count() > 0 {
            return Err(PyTypeError::new_err(
                "an Arrow struct array with null rows is not a record batch",
            ));
        }
        let batch = RecordBatch::from(rows.clone());
        return Ok((batch.schema(), vec![batch]));
    }
    Err(PyTypeError::new_err(format!(
        "expected Arrow data (an object with __arrow_c_stream__ or __arrow_c_array__, such as a pyarrow Table or a polars DataFrame), not {}",
        obj.get_type().name()?
    )))
}

/// The array an object exports through `__arrow_c_array__`.
pub(crate) fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = pair.extract()?;
    let schema_ptr = schema
        .pointer_checked(Some(SCHEMA))?
        .cast::<FFI_ArrowSchema>();
    let array_ptr = array.pointer_checked(Some(ARRAY))?.cast::<FFI_ArrowArray>();
    // SAFETY: the capsules are named "arrow_schema" and "arrow_array", so by the PyCapsule
    // interface they hold an ArrowSchema and an ArrowArray. The schema is borrowed (it lives
    // as long as its capsule, held here); the array is moved out (`from_raw` marks the
    // capsule's copy released), and `from_ffi` checks the array against the schema's type.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array_ptr.as_ptr());
        from_ffi(array, schema_ptr.as_ref())
    }
    .map_err(arrow_err)?;
    Ok(make_array(data))
}

// ---------------------------------------------------------------------------- from Python

/// A text column from a Python list (None or str; a str that is not UTF-8, such as one with
/// a lone surrogate, is written with replacement characters).
fn text_column(values: &Bound<'_, PyList>) -> PyResult<ArrayRef> {
    let mut out: Vec<Option<String>> = Vec::with_capacity(values.len());
    for v in values.iter() {
        out.push(if v.is_none() {
            None
        } else {
            Some(v.cast::<PyString>()?.to_string_lossy().into_owned())
        });
    }
    Ok(Arc::new(StringArray::from(out)))
}

fn seconds_column(values: &Bound<'_, PyList>) -> PyResult<ArrayRef> {
    let out: Vec<Option<f64>> = values.extract()?;
    Ok(Arc::new(Float64Array::from(out)))
}

/// A column of `ty` from a Python list.
fn column_from_list(ty: &DataType, values: &Bound<'_, PyList>) -> PyResult<ArrayRef> {
    Ok(match ty {
        DataType::Boolean => Arc::new(BooleanArray::from(values.extract::<Vec<Option<bool>>>()?)),
        DataType::Int64 => Arc::new(Int64Array::from(values.extract::<Vec<Option<i64>>>()?)),
        DataType::Float64 => seconds_column(values)?,
        _ => text_column(values)?,
    })
}

/// The verdict batch (`index` from `first`, then the verdict columns) of columns given as
/// Python lists (the reference path's verdicts).
#[pyfunction]
pub fn verdict_batch(
    py: Python<'_>,
    columns: &Bound<'_, PyDict>,
    first: i64,
) -> PyResult<Py<PyAny>> {
    let arrays = VERDICT_COLUMNS
        .iter()
        .map(|name| {
            let values = columns
                .get_item(name)?
                .ok_or_else(|| PyValueError::new_err(format!("no column {name}")))?;
            column_from_list(&core_arrow::verdict_type(name), values.cast::<PyList>()?)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let batch = core_arrow::verdict_batch(first, &arrays).map_err(arrow_err)?;
    export(py, batch.schema(), vec![batch])
}

/// A report batch with the columns `fields` (in that order) of columns given as Python lists
/// (the records of the Python log readers).
#[pyfunction]
pub fn report_batch(
    py: Python<'_>,
    columns: &Bound<'_, PyDict>,
    fields: Vec<String>,
) -> PyResult<Py<PyAny>> {
    let mut out = Vec::with_capacity(fields.len());
    let mut schema = Vec::with_capacity(fields.len());
    for name in &fields {
        let values = columns
            .get_item(name)?
            .ok_or_else(|| PyValueError::new_err(format!("no column {name}")))?;
        let ty = core_arrow::verdict_type(name);
        out.push(column_from_list(&ty, values.cast::<PyList>()?)?);
        schema.push(Field::new(name, ty, true));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(schema)), out).map_err(arrow_err)?;
    export(py, batch.schema(), vec![batch])
}

/// The batches of a report: ours as they are; another exporter's checked first (their
/// strings are read in place).
fn report_batches(batch: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    if let Ok(ours) = batch.cast::<ArrowRecordBatch>() {
        return Ok(vec![ours.get().batch.clone()]);
    }
    if let Ok(ours) = batch.cast::<ArrowBatches>() {
        return Ok(ours.get().batches.clone());
    }
    let (_, batches) = import_batches(batch)?;
    for b in &batches {
        for column in b.columns() {
            column.to_data().validate_full().map_err(arrow_err)?;
        }
    }
    Ok(batches)
}

/// The report batch `batch` (anything exporting record batches) as JSON lines.
#[pyfunction]
pub fn report_jsonl<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    write_report(py, batch, core_arrow::report_jsonl)
}

/// The report batch `batch` as CSV rows (no header).
#[pyfunction]
pub fn report_csv<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    write_report(py, batch, core_arrow::report_csv)
}

fn write_report<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    write: fn(&RecordBatch, &mut Vec<u8>) -> Result<(), ArrowError>,
) -> PyResult<Bound<'py, PyBytes>> {
    let batches = report_batches(batch)?;
    let out = py.detach(|| {
        let mut out = Vec::new();
        for b in &batches {
            write(b, &mut out)?;
        }
        Ok::<_, ArrowError>(out)
    });
    Ok(PyBytes::new(py, &out.map_err(arrow_err)?))
}
