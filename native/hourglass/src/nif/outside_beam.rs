//! Stand-ins for the BEAM's `enif_*` functions, in this crate's own unit-test binary only.
//!
//! The NIF code lives in this library so that a user's crate gets all of it by declaring its
//! NIF with [`crate::nif!`]. A NIF library leaves these symbols for the BEAM to provide when it
//! loads the library; a `cargo test` binary has no BEAM, and the linker (and, with eager
//! binding, the loader) insists on a definition. The unit tests never call into the BEAM, so
//! each stand-in only says loudly that it was reached. A link error naming another `enif_*`
//! function means new NIF code uses it: add it to the list.

macro_rules! outside_the_beam {
    ($($name:ident),* $(,)?) => {
        $(
            #[no_mangle]
            extern "C" fn $name() {
                panic!(concat!(stringify!($name), " called outside the BEAM"));
            }
        )*
    };
}

outside_the_beam!(
    enif_alloc_env,
    enif_alloc_resource,
    enif_binary_to_term,
    enif_clear_env,
    enif_free_env,
    enif_get_atom,
    enif_get_atom_length,
    enif_get_double,
    enif_get_int,
    enif_get_list_cell,
    enif_get_list_length,
    enif_get_local_pid,
    enif_get_long,
    enif_get_map_size,
    enif_get_map_value,
    enif_get_resource,
    enif_get_tuple,
    enif_get_uint,
    enif_get_ulong,
    enif_inspect_binary,
    enif_is_atom,
    enif_is_binary,
    enif_is_empty_list,
    enif_is_exception,
    enif_is_identical,
    enif_is_list,
    enif_is_map,
    enif_keep_resource,
    enif_make_atom_len,
    enif_make_badarg,
    enif_make_copy,
    enif_make_double,
    enif_make_int,
    enif_make_list_from_array,
    enif_make_long,
    enif_make_map_from_arrays,
    enif_make_map_put,
    enif_make_new_binary,
    enif_make_new_map,
    enif_make_resource,
    enif_make_tuple_from_array,
    enif_make_uint,
    enif_make_ulong,
    enif_map_iterator_create,
    enif_map_iterator_destroy,
    enif_map_iterator_get_pair,
    enif_map_iterator_next,
    enif_map_iterator_prev,
    enif_monitor_process,
    enif_open_resource_type_x,
    enif_raise_exception,
    enif_release_binary,
    enif_release_resource,
    enif_schedule_nif,
    enif_self,
    enif_send,
    enif_term_to_binary,
    enif_term_type,
    enif_thread_type,
);
