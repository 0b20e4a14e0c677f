/**
 * The Emscripten JS library behind native/include/mpi.h: `fmi cc` links it
 * with --js-library. Every MPI_* function forwards its arguments to the
 * runtime object the loader hands to the module as `Module.fmi` (an
 * MpiRuntime from src/mpi/runtime.ts), which holds the handle tables
 * (communicators, groups, requests, datatypes, ops, keyvals, infos) and talks
 * to the fmi Communicator. C code gets an error code back and outputs through
 * pointers, as from any MPI library.
 *
 * Calls that wait for the network return a Promise from the runtime; for
 * those the module sleeps through Asyncify until it settles. Only the names
 * in FMI_BLOCKING may sleep: `fmi cc` passes exactly this list as
 * -sASYNCIFY_IMPORTS (it reads it from this file, between the markers).
 */

// fmi:blocking-begin
var FMI_BLOCKING = [
  'MPI_Init', 'MPI_Init_thread', 'MPI_Finalize',
  'MPI_Send', 'MPI_Bsend', 'MPI_Ssend', 'MPI_Rsend', 'MPI_Recv', 'MPI_Sendrecv', 'MPI_Sendrecv_replace',
  'MPI_Probe', 'MPI_Iprobe', 'MPI_Mprobe', 'MPI_Improbe', 'MPI_Buffer_detach',
  'MPI_Wait', 'MPI_Waitall', 'MPI_Waitany', 'MPI_Waitsome',
  'MPI_Test', 'MPI_Testall', 'MPI_Testany', 'MPI_Testsome', 'MPI_Request_get_status',
  'MPI_Barrier', 'MPI_Bcast', 'MPI_Gather', 'MPI_Gatherv', 'MPI_Scatter', 'MPI_Scatterv',
  'MPI_Allgather', 'MPI_Allgatherv', 'MPI_Alltoall', 'MPI_Alltoallv', 'MPI_Alltoallw',
  'MPI_Reduce', 'MPI_Allreduce', 'MPI_Reduce_scatter', 'MPI_Reduce_scatter_block', 'MPI_Scan', 'MPI_Exscan',
  'MPI_Comm_dup', 'MPI_Comm_dup_with_info', 'MPI_Comm_create', 'MPI_Comm_split', 'MPI_Comm_split_type',
  'MPI_Comm_free', 'MPI_Comm_create_group', 'MPI_Intercomm_create', 'MPI_Intercomm_merge',
  'MPI_Cart_create', 'MPI_Cart_sub',
  'MPI_Graph_create', 'MPI_Dist_graph_create_adjacent', 'MPI_Dist_graph_create',
  'MPI_Neighbor_allgather', 'MPI_Neighbor_allgatherv', 'MPI_Neighbor_alltoall', 'MPI_Neighbor_alltoallv',
  'MPI_Neighbor_alltoallw',
];
// fmi:blocking-end

/* Never wait: they answer at once or start a request. */
var FMI_IMMEDIATE = [
  'MPI_Initialized', 'MPI_Finalized', 'MPI_Abort', 'MPI_Query_thread', 'MPI_Is_thread_main',
  'MPI_Get_processor_name', 'MPI_Get_version', 'MPI_Get_library_version', 'MPI_Error_class', 'MPI_Error_string',
  'MPI_Pcontrol', 'MPI_Alloc_mem', 'MPI_Free_mem',
  'MPI_Isend', 'MPI_Ibsend', 'MPI_Issend', 'MPI_Irsend', 'MPI_Irecv', 'MPI_Buffer_attach',
  'MPI_Get_count', 'MPI_Get_elements', 'MPI_Get_elements_x', 'MPI_Status_set_elements', 'MPI_Status_set_cancelled',
  'MPI_Mrecv', 'MPI_Imrecv', 'MPI_Cancel', 'MPI_Test_cancelled', 'MPI_Request_free',
  'MPI_Send_init', 'MPI_Bsend_init', 'MPI_Ssend_init', 'MPI_Rsend_init', 'MPI_Recv_init', 'MPI_Start', 'MPI_Startall',
  'MPI_Reduce_local', 'MPI_Op_create', 'MPI_Op_free', 'MPI_Op_commutative',
  'MPI_Ibarrier', 'MPI_Ibcast', 'MPI_Igather', 'MPI_Igatherv', 'MPI_Iscatter', 'MPI_Iscatterv',
  'MPI_Iallgather', 'MPI_Iallgatherv', 'MPI_Ialltoall', 'MPI_Ialltoallv', 'MPI_Ialltoallw', 'MPI_Ireduce', 'MPI_Iallreduce',
  'MPI_Ireduce_scatter', 'MPI_Ireduce_scatter_block', 'MPI_Iscan', 'MPI_Iexscan',
  'MPI_Comm_size', 'MPI_Comm_rank', 'MPI_Comm_compare', 'MPI_Comm_idup',
  'MPI_Comm_test_inter', 'MPI_Comm_remote_size', 'MPI_Comm_remote_group', 'MPI_Comm_get_name', 'MPI_Comm_set_name',
  'MPI_Comm_set_info', 'MPI_Comm_get_info',
  'MPI_Comm_group', 'MPI_Comm_create_keyval', 'MPI_Comm_free_keyval', 'MPI_Comm_set_attr', 'MPI_Comm_get_attr',
  'MPI_Comm_delete_attr', 'MPI_Keyval_create', 'MPI_Keyval_free', 'MPI_Attr_put', 'MPI_Attr_get', 'MPI_Attr_delete',
  'MPI_Comm_create_errhandler', 'MPI_Comm_set_errhandler', 'MPI_Comm_get_errhandler', 'MPI_Comm_call_errhandler',
  'MPI_Errhandler_free', 'MPI_Add_error_class', 'MPI_Add_error_code', 'MPI_Add_error_string',
  'MPI_Group_size', 'MPI_Group_rank', 'MPI_Group_translate_ranks', 'MPI_Group_compare', 'MPI_Group_union',
  'MPI_Group_intersection', 'MPI_Group_difference', 'MPI_Group_incl', 'MPI_Group_excl', 'MPI_Group_range_incl',
  'MPI_Group_range_excl', 'MPI_Group_free',
  'MPI_Info_create', 'MPI_Info_free', 'MPI_Info_set', 'MPI_Info_get', 'MPI_Info_get_valuelen', 'MPI_Info_delete',
  'MPI_Info_get_nkeys', 'MPI_Info_get_nthkey', 'MPI_Info_dup',
  'MPI_Type_contiguous', 'MPI_Type_vector', 'MPI_Type_create_hvector', 'MPI_Type_indexed',
  'MPI_Type_create_hindexed', 'MPI_Type_create_indexed_block', 'MPI_Type_create_hindexed_block',
  'MPI_Type_create_struct', 'MPI_Type_create_subarray', 'MPI_Type_create_darray', 'MPI_Type_create_resized',
  'MPI_Type_dup', 'MPI_Type_commit', 'MPI_Type_free', 'MPI_Type_size', 'MPI_Type_size_x', 'MPI_Type_get_extent',
  'MPI_Type_get_true_extent', 'MPI_Type_get_envelope', 'MPI_Type_get_contents', 'MPI_Type_get_name',
  'MPI_Type_set_name', 'MPI_Get_address', 'MPI_Pack', 'MPI_Unpack', 'MPI_Pack_size',
  'MPI_Cart_coords', 'MPI_Cart_rank', 'MPI_Cart_shift', 'MPI_Cart_get', 'MPI_Cartdim_get', 'MPI_Dims_create',
  'MPI_Topo_test', 'MPI_Graphdims_get', 'MPI_Graph_get', 'MPI_Graph_neighbors_count', 'MPI_Graph_neighbors',
  'MPI_Dist_graph_neighbors_count', 'MPI_Dist_graph_neighbors', 'MPI_Comm_get_parent',
  'MPI_Ineighbor_allgather', 'MPI_Ineighbor_allgatherv', 'MPI_Ineighbor_alltoall', 'MPI_Ineighbor_alltoallv',
  'MPI_Ineighbor_alltoallw',
  'MPI_Status_set_elements_x', 'MPI_Grequest_start', 'MPI_Grequest_complete', 'MPI_Pack_external',
  'MPI_Unpack_external', 'MPI_Pack_external_size', 'MPI_Type_get_extent_x', 'MPI_Type_get_true_extent_x',
  'MPI_Type_match_size', 'MPI_Type_create_keyval', 'MPI_Type_free_keyval', 'MPI_Type_set_attr', 'MPI_Type_get_attr',
  'MPI_Type_delete_attr', 'MPI_Cart_map', 'MPI_Graph_map',
  // The tool information interface of a library with no tool variables (src/mpi/tools.ts).
  'MPI_T_category_changed', 'MPI_T_category_get_categories', 'MPI_T_category_get_cvars', 'MPI_T_category_get_index',
  'MPI_T_category_get_info', 'MPI_T_category_get_num', 'MPI_T_category_get_pvars', 'MPI_T_cvar_get_index',
  'MPI_T_cvar_get_info', 'MPI_T_cvar_get_num', 'MPI_T_cvar_handle_alloc', 'MPI_T_cvar_handle_free',
  'MPI_T_cvar_read', 'MPI_T_cvar_write', 'MPI_T_enum_get_info', 'MPI_T_enum_get_item', 'MPI_T_finalize',
  'MPI_T_init_thread', 'MPI_T_pvar_get_index', 'MPI_T_pvar_get_info', 'MPI_T_pvar_get_num',
  'MPI_T_pvar_handle_alloc', 'MPI_T_pvar_handle_free', 'MPI_T_pvar_read', 'MPI_T_pvar_readreset', 'MPI_T_pvar_reset',
  'MPI_T_pvar_session_create', 'MPI_T_pvar_session_free', 'MPI_T_pvar_start', 'MPI_T_pvar_stop', 'MPI_T_pvar_write'
];

/*
 * Declared in mpi.h so that every MPI 3.1 program compiles and links, but not
 * implemented: one-sided communication, MPI-IO, dynamic processes (an fmi
 * job has a fixed set of ranks), the Fortran 90 parameterized types. The runtime has no
 * entry for them, so each fails with MPI_ERR_UNSUPPORTED_OPERATION naming
 * itself, through MPI_COMM_WORLD's error handler (docs/mpi.md).
 */
var FMI_UNSUPPORTED = [
  'MPI_Comm_spawn',
  'MPI_Accumulate', 'MPI_Close_port', 'MPI_Comm_accept', 'MPI_Comm_connect', 'MPI_Comm_disconnect', 'MPI_Comm_join',
  'MPI_Comm_spawn_multiple', 'MPI_Compare_and_swap', 'MPI_Fetch_and_op', 'MPI_File_call_errhandler',
  'MPI_File_close', 'MPI_File_create_errhandler', 'MPI_File_delete', 'MPI_File_get_amode', 'MPI_File_get_atomicity',
  'MPI_File_get_byte_offset', 'MPI_File_get_errhandler', 'MPI_File_get_group', 'MPI_File_get_info',
  'MPI_File_get_position', 'MPI_File_get_position_shared', 'MPI_File_get_size', 'MPI_File_get_type_extent',
  'MPI_File_get_view', 'MPI_File_iread', 'MPI_File_iread_all', 'MPI_File_iread_at', 'MPI_File_iread_at_all',
  'MPI_File_iread_shared', 'MPI_File_iwrite', 'MPI_File_iwrite_all', 'MPI_File_iwrite_at', 'MPI_File_iwrite_at_all',
  'MPI_File_iwrite_shared', 'MPI_File_open', 'MPI_File_preallocate', 'MPI_File_read', 'MPI_File_read_all',
  'MPI_File_read_all_begin', 'MPI_File_read_all_end', 'MPI_File_read_at', 'MPI_File_read_at_all',
  'MPI_File_read_at_all_begin', 'MPI_File_read_at_all_end', 'MPI_File_read_ordered', 'MPI_File_read_ordered_begin',
  'MPI_File_read_ordered_end', 'MPI_File_read_shared', 'MPI_File_seek', 'MPI_File_seek_shared',
  'MPI_File_set_atomicity', 'MPI_File_set_errhandler', 'MPI_File_set_info', 'MPI_File_set_size', 'MPI_File_set_view',
  'MPI_File_sync', 'MPI_File_write', 'MPI_File_write_all', 'MPI_File_write_all_begin', 'MPI_File_write_all_end',
  'MPI_File_write_at', 'MPI_File_write_at_all', 'MPI_File_write_at_all_begin', 'MPI_File_write_at_all_end',
  'MPI_File_write_ordered', 'MPI_File_write_ordered_begin', 'MPI_File_write_ordered_end', 'MPI_File_write_shared',
  'MPI_Get', 'MPI_Get_accumulate', 'MPI_Lookup_name', 'MPI_Open_port', 'MPI_Publish_name', 'MPI_Put',
  'MPI_Raccumulate', 'MPI_Register_datarep', 'MPI_Rget', 'MPI_Rget_accumulate', 'MPI_Rput',
  'MPI_Type_create_f90_complex', 'MPI_Type_create_f90_integer', 'MPI_Type_create_f90_real', 'MPI_Unpublish_name',
  'MPI_Win_allocate', 'MPI_Win_allocate_shared', 'MPI_Win_attach', 'MPI_Win_call_errhandler', 'MPI_Win_complete',
  'MPI_Win_create', 'MPI_Win_create_dynamic', 'MPI_Win_create_errhandler', 'MPI_Win_create_keyval',
  'MPI_Win_delete_attr', 'MPI_Win_detach', 'MPI_Win_fence', 'MPI_Win_flush', 'MPI_Win_flush_all',
  'MPI_Win_flush_local', 'MPI_Win_flush_local_all', 'MPI_Win_free', 'MPI_Win_free_keyval', 'MPI_Win_get_attr',
  'MPI_Win_get_errhandler', 'MPI_Win_get_group', 'MPI_Win_get_info', 'MPI_Win_get_name', 'MPI_Win_lock',
  'MPI_Win_lock_all', 'MPI_Win_post', 'MPI_Win_set_attr', 'MPI_Win_set_errhandler', 'MPI_Win_set_info',
  'MPI_Win_set_name', 'MPI_Win_shared_query', 'MPI_Win_start', 'MPI_Win_sync', 'MPI_Win_test', 'MPI_Win_unlock',
  'MPI_Win_unlock_all', 'MPI_Win_wait'
];

var LibraryFmi = {
  // The bridge between the module and the runtime. `FMI.host` is what the
  // runtime may touch of the module: memory, malloc/free, the function table
  // (user ops, attribute copy/delete callbacks, error handlers).
  $FMI__deps: ['$Asyncify', 'malloc', 'free'],
  $FMI__postset:
    "Module['fmiRunMain'] = function(args) { return FMI.runMain(args); };\n" +
    "Module['fmiHost'] = FMI.host;",
  $FMI: {
    host: {
      heap: function() { return HEAPU8; },
      // The WebAssembly.Memory itself: the runtime instantiates fmi's kernels
      // over it, so reductions run in place on the program's buffers.
      memory: function() { return wasmMemory; },
      malloc: function(n) { return _malloc(n); },
      free: function(p) { _free(p); },
      call: function(fp, a, b, c, d, e, f) { return wasmTable.get(fp)(a, b, c, d, e, f); },
    },

    // A fatal MPI error (MPI_ERRORS_ARE_FATAL, MPI_Abort) ends the program
    // here, with compiled code on the stack: exit() runs the C exit path
    // (atexit, stdio flush) and throws, unwinding to FMI.runMain.
    done: function(ret) {
      var code = FMI.runtime().pendingExit;
      if (code !== undefined) exit(code);
      return ret;
    },

    // The runtime (Module.fmi), looked up once: Module has many properties,
    // and a lookup on it costs ~0.1 us, two or three times per MPI call.
    rt: null,
    runtime: function() { return FMI.rt || (FMI.rt = Module['fmi']); },

    // `args`: the C arguments as an Array (rest parameters: an `arguments`
    // object made Array.from take its slow, iterating path, ~0.5 us a call).
    call: function(name, args) {
      return FMI.done(FMI.runtime().call(name, args));
    },

    block: function(name, args) {
      // Asyncify calls an import again when it rewinds the stack into it:
      // that second call only collects the value the first one slept for.
      if (Asyncify.state === Asyncify.State.Rewinding) return FMI.done(Asyncify.handleSleep(FMI.nothing));
      var r = FMI.runtime().call(name, args);
      if (typeof r === 'number') return FMI.done(r);
      return Asyncify.handleSleep(function(wakeUp) { r.then(wakeUp); });
    },
    nothing: function() {},

    // Runs main(argc, argv) and resolves to the exit status: main's return
    // value, or what exit()/a fatal error/MPI_Abort ended it with. Asyncify
    // may suspend main any number of times on the way.
    runMain: function(args) {
      return new Promise(function(resolve, reject) {
        function exited(e) {
          if (e && e.name === 'ExitStatus') resolve(e.status);
          else reject(e);
        }
        function returned(ret) {
          try {
            exit(ret);
            resolve(ret);
          } catch (e) {
            exited(e);
          }
        }
        var argv;
        try {
          var strs = [Module['thisProgram'] || './this.program'].concat(args);
          argv = _malloc((strs.length + 1) * 4);
          for (var i = 0; i < strs.length; i++) {
            var n = lengthBytesUTF8(strs[i]) + 1;
            var p = _malloc(n);
            stringToUTF8(strs[i], p, n);
            HEAP32[(argv >> 2) + i] = p;
          }
          HEAP32[(argv >> 2) + strs.length] = 0;
          var ret = _main(strs.length, argv);
        } catch (e) {
          exited(e);
          return;
        }
        if (Asyncify.currData) Asyncify.whenDone().then(returned, exited);
        else returned(ret);
      });
    },
  },

  // `fmi run --mount DIR` (runProgram's `mounts`): host directories at their
  // own paths in the program's file system (NODEFS), and the working
  // directory when it lies in one; called before main (Module.preRun). Every
  // program links Emscripten's FS and NODEFS for it.
  $FMI_MOUNT__deps: ['$FS', '$NODEFS'],
  $FMI_MOUNT__postset: "Module['fmiMount'] = FMI_MOUNT;",
  $FMI_MOUNT: function(dirs, cwd) {
    dirs.forEach(function(d) {
      FS.mkdirTree(d);
      FS.mount(NODEFS, { root: d }, d);
    });
    if (cwd) FS.chdir(cwd);
  },

  MPI_Wtime__deps: ['$FMI'],
  MPI_Wtime: function() { return FMI.runtime().wtime(); },
  MPI_Wtick__deps: ['$FMI'],
  MPI_Wtick: function() { return FMI.runtime().wtick(); },
  // Handle conversions to and from Fortran are the identity: handles are ints.
  MPI_Comm_f2c: function(h) { return h; },
  MPI_Comm_c2f: function(h) { return h; },
  MPI_Type_f2c: function(h) { return h; },
  MPI_Type_c2f: function(h) { return h; },
  MPI_Op_f2c: function(h) { return h; },
  MPI_Op_c2f: function(h) { return h; },
  MPI_Request_f2c: function(h) { return h; },
  MPI_Request_c2f: function(h) { return h; },
  MPI_Group_f2c: function(h) { return h; },
  MPI_Group_c2f: function(h) { return h; },
  MPI_Info_f2c: function(h) { return h; },
  MPI_Info_c2f: function(h) { return h; },
  MPI_Errhandler_f2c: function(h) { return h; },
  MPI_Errhandler_c2f: function(h) { return h; },
  MPI_Message_f2c: function(h) { return h; },
  MPI_Message_c2f: function(h) { return h; },
  MPI_Win_f2c: function(h) { return h; },
  MPI_Win_c2f: function(h) { return h; },
  MPI_File_f2c: function(h) { return h; },
  MPI_File_c2f: function(h) { return h; },
  // A Fortran status holds the same five ints as the C one.
  // >>> 2: with 4 GiB of memory, pointers past 2 GiB arrive negative.
  MPI_Status_c2f: function(c, f) { HEAP32.copyWithin(f >>> 2, c >>> 2, (c >>> 2) + 5); return 0; },
  MPI_Status_f2c: function(f, c) { HEAP32.copyWithin(c >>> 2, f >>> 2, (f >>> 2) + 5); return 0; },
  MPI_Aint_add: function(base, disp) { return (base + disp) | 0; },
  MPI_Aint_diff: function(a, b) { return (a - b) | 0; },
};

// One forwarding function per MPI name. Emscripten prints library functions
// with toString() and renames them, so each is made from source text.
FMI_BLOCKING.forEach(function(name) {
  LibraryFmi[name] = new Function('...args', "return FMI.block('" + name + "', args);");
  LibraryFmi[name + '__deps'] = ['$FMI'];
});
FMI_IMMEDIATE.concat(FMI_UNSUPPORTED).forEach(function(name) {
  LibraryFmi[name] = new Function('...args', "return FMI.call('" + name + "', args);");
  LibraryFmi[name + '__deps'] = ['$FMI'];
});

// The profiling interface (MPI 3.1 §14.2): every MPI_X is also PMPI_X. A
// program (or tool) that defines its own MPI_X links it instead of ours --
// wasm-ld only imports what no object defines -- and reaches the library
// through PMPI_X. `fmi cc` makes the blocking PMPI_ names Asyncify imports too.
Object.keys(LibraryFmi).forEach(function(name) {
  if (!/^MPI_[A-Z]/.test(name) || /__deps$/.test(name)) return;
  LibraryFmi['P' + name] = LibraryFmi[name];
  if (LibraryFmi[name + '__deps']) LibraryFmi['P' + name + '__deps'] = LibraryFmi[name + '__deps'];
});

mergeInto(LibraryManager.library, LibraryFmi);
