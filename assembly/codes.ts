// Op and element-type codes shared with src/kernels/codes.ts. Fixed: other
// code (the MPI ABI, stored configs) relies on the numbers.

export const OP_SUM: i32 = 0;
export const OP_PROD: i32 = 1;
export const OP_MIN: i32 = 2;
export const OP_MAX: i32 = 3;
export const OP_LAND: i32 = 4;
export const OP_LOR: i32 = 5;
export const OP_LXOR: i32 = 6;
export const OP_BAND: i32 = 7;
export const OP_BOR: i32 = 8;
export const OP_BXOR: i32 = 9;

export const T_I8: i32 = 0;
export const T_U8: i32 = 1;
export const T_I16: i32 = 2;
export const T_U16: i32 = 3;
export const T_I32: i32 = 4;
export const T_U32: i32 = 5;
export const T_I64: i32 = 6;
export const T_U64: i32 = 7;
export const T_F32: i32 = 8;
export const T_F64: i32 = 9;
